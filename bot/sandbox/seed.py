"""The fixed cast of people every sandbox CRM account starts with.

Realistic enough for a demo, awkward enough for tests: two people share a first name (name search yields several
matches), names carry accents and apostrophes, and one record is long and full of Slack mrkdwn control characters.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SeedNote:
    content: str
    days_ago: int


@dataclass(frozen=True, slots=True)
class SeedTask:
    title: str
    due_in_days: int
    description: str = ""


@dataclass(frozen=True, slots=True)
class SeedPerson:
    first_name: str
    last_name: str
    email: str
    title: str
    company: str
    phone: str
    stage: str
    notes: tuple[SeedNote, ...] = ()
    tasks: tuple[SeedTask, ...] = ()


OWNERS = ("Sam Rivera", "Jordan Lee", "Alex Kim")

_LONG_NOTE = (
    "Call recap *(long)*: Bobby asked us to <!channel> the whole team & loop in legal <legal@little-bobby.example>. "
    "He pasted <https://evil.example|a totally safe link> and said `DROP TABLE contacts;` was 'just a joke'. "
    "Pricing: 10 seats @ $1,200 < budget > last year's spend & they want _net-60_ terms.\n"
    "Next steps:\n• Send the ~revised~ order form\n• Confirm SSO <SAML> & SCIM\n• ```code block``` review\n"
    + "Follow-up details, repeated for length. "
    * 20
)

SEED_PEOPLE: tuple[SeedPerson, ...] = (
    SeedPerson(
        "Ada",
        "Lovelace",
        "ada.lovelace@analytical-engines.example",
        "Head of Research",
        "Analytical Engines Ltd",
        "+44 20 7946 0101",
        "Qualified",
        notes=(
            SeedNote("Intro call: interested in the analytics add-on; wants a demo for her team.", 12),
            SeedNote("Sent the security questionnaire. She will forward it to IT.", 4),
        ),
        tasks=(SeedTask("Schedule analytics demo", 5, "Demo for Ada's research team, 45 minutes."),),
    ),
    SeedPerson(
        "Ada",
        "Byron",
        "ada.byron@byron-partners.example",
        "VP Operations",
        "Byron & Partners",
        "+44 20 7946 0202",
        "Lead",
        notes=(SeedNote("Met at the London ops summit. Asked for a case study in logistics.", 20),),
    ),
    SeedPerson(
        "Grace",
        "Hopper",
        "grace.hopper@cobol-systems.example",
        "CTO",
        "COBOL Systems",
        "+1 212 555 0143",
        "Negotiation",
        notes=(
            SeedNote("Legal review of the MSA started.", 9),
            SeedNote("Grace approved the technical evaluation.", 3),
            SeedNote("Procurement wants a 3-year term with a price lock.", 1),
        ),
        tasks=(
            SeedTask("Send redlined MSA", 2, "Include the price-lock clause."),
            SeedTask("Book exec sponsor call", 7),
        ),
    ),
    SeedPerson(
        "Alan",
        "Turing",
        "alan.turing@bletchley-analytics.example",
        "Principal Engineer",
        "Bletchley Analytics",
        "+44 1908 555 014",
        "Proposal",
        notes=(SeedNote("Evaluating us against two competitors; decision in Q1.", 15),),
        tasks=(SeedTask("Share API rate-limit docs", 3),),
    ),
    SeedPerson(
        "Katherine",
        "Johnson",
        "katherine.johnson@orbital-dynamics.example",
        "Director of Flight Dynamics",
        "Orbital Dynamics Inc",
        "+1 757 555 0177",
        "Customer",
        notes=(SeedNote("Renewal signed. Expansion conversation planned for spring.", 30),),
    ),
    SeedPerson(
        "Margaret",
        "Hamilton",
        "margaret.hamilton@apollo-guidance.example",
        "Software Lead",
        "Apollo Guidance Co",
        "+1 617 555 0160",
        "Qualified",
        tasks=(SeedTask("Send onboarding plan", 4, "Draft a 30/60/90 onboarding plan."),),
    ),
    SeedPerson(
        "José",
        "Martínez",
        "jose.martinez@iberica-logistica.example",
        "Procurement Manager",
        "Ibérica Logística",
        "+34 91 555 0190",
        "Lead",
        notes=(SeedNote("Prefers email in Spanish; decision maker for EU warehouses.", 6),),
    ),
    SeedPerson(
        "Zoë",
        "O'Brien",
        "zoe.obrien@northwind.example",
        "Account Director",
        "Northwind Traders",
        "+353 1 555 0122",
        "Proposal",
        notes=(SeedNote("Asked for a partner discount; escalated to Jordan.", 8),),
        tasks=(SeedTask("Reply about partner discount", 1),),
    ),
    SeedPerson(
        "Wei",
        "Chen",
        "wei.chen@lotus-manufacturing.example",
        "Head of Sales",
        "Lotus Manufacturing",
        "+86 21 5555 0133",
        "Lead",
    ),
    SeedPerson(
        "Priya",
        "Raman",
        "priya.raman@sundial-health.example",
        "CFO",
        "Sundial Health",
        "+1 415 555 0188",
        "Negotiation",
        notes=(
            SeedNote("Budget confirmed for next fiscal year.", 11),
            SeedNote("Wants quarterly invoicing instead of annual.", 2),
        ),
        tasks=(SeedTask("Send quarterly invoicing terms", 3),),
    ),
    SeedPerson(
        "Olusegun",
        "Adeyemi",
        "olusegun.adeyemi@lagos-fintech.example",
        "IT Director",
        "Lagos Fintech",
        "+234 1 555 0150",
        "Qualified",
        notes=(SeedNote("Needs data residency in the EU. Check the hosting options.", 5),),
    ),
    SeedPerson(
        "Bobby",
        "Tables <&> *Jr.*",
        "bobby.tables@little-bobby.example",
        "Senior Vice President, *Strategic* Partnerships & Alliances <EMEA> — _interim_ ~acting~ `global` lead "
        "for channel development, reseller enablement & marketplace programmes",
        "Tables & Chairs <Holdings> *Ltd*",
        "+1 (555) 010-0000 ext. <42>",
        "Proposal",
        notes=(SeedNote(_LONG_NOTE, 7), SeedNote("Short one: *bold* _it_ ~strike~ <@U123> & done.", 1)),
        tasks=(
            SeedTask(
                "Follow up on <order form> & *SSO*",
                6,
                "Long description: " + "confirm every <detail> & *requirement* before sending. " * 8,
            ),
        ),
    ),
)
