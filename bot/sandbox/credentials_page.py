"""The credential manager page Rollout links to: `/mcp/credentials/<token>` lists and connects CRM accounts.

The URL carries the user's token, so responses forbid caching and referrers, and nothing here logs the URL.
"""

from __future__ import annotations

from html import escape
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from bot.sandbox.auth import RolloutTokenVerifier
from bot.sandbox.crm import PROVIDERS, CrmAccount, SandboxCrm

PAGE_PATH = "/mcp/credentials/{token}"
_PRIVATE_HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"}

_STYLE = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;background:#f6f7f9;color:#1d1c1d;margin:0}
main{max-width:34rem;margin:3rem auto;background:#fff;border-radius:12px;padding:2rem;box-shadow:0 1px 4px #0002}
h1{font-size:1.4rem;margin:0 0 .25rem}h2{font-size:1.05rem;margin:1.5rem 0 .5rem}p{color:#555;margin:.25rem 0}
ul{list-style:none;padding:0;margin:0}li{padding:.5rem .75rem;border:1px solid #e3e3e6;border-radius:8px;margin:.4rem 0}
.id{color:#777;font-size:.85rem}.providers{display:flex;gap:.5rem;flex-wrap:wrap}form{margin:0}
button{font:inherit;padding:.5rem 1rem;border-radius:8px;border:1px solid #4a154b;background:#4a154b;color:#fff;
cursor:pointer}button:hover{background:#611f69}
"""


class CredentialsPage:
    def __init__(self, *, crm: SandboxCrm, verifier: RolloutTokenVerifier) -> None:
        self._crm = crm
        self._verifier = verifier

    async def handle(self, request: Request) -> Response:
        access = self._verifier.verify(request.path_params["token"])
        if access is None or access.subject is None:
            return _page("Link expired", "<p>This link has expired. Ask the bot for a new one.</p>", status=401)
        if request.method == "POST":
            return await self._connect(request, access.subject)
        return _page("Connect your CRM", _body(self._crm.accounts(access.subject)))

    async def _connect(self, request: Request, subject: str) -> Response:
        form = dict(parse_qsl((await request.body()).decode("utf-8", errors="replace")))
        provider = form.get("provider", "")
        if provider not in PROVIDERS:
            return _page("Unknown CRM", "<p>That CRM is not supported.</p>", status=400)
        self._crm.connect(subject, provider)
        # Back to the same page (Post/Redirect/Get); a relative path keeps the token off any other origin.
        return RedirectResponse(request.url.path, status_code=303, headers=_PRIVATE_HEADERS)


def _body(accounts: list[CrmAccount]) -> str:
    if accounts:
        items = "".join(
            f'<li><strong>{escape(a.label)}</strong> <span class="id">{escape(a.app_key)} · {escape(a.id)}</span></li>'
            for a in accounts
        )
        connected = f"<ul>{items}</ul>"
    else:
        connected = "<p>No CRM is connected yet.</p>"
    buttons = "".join(
        f'<form method="post"><input type="hidden" name="provider" value="{escape(p.key)}">'
        f'<button type="submit">Connect {escape(p.label)}</button></form>'
        for p in PROVIDERS.values()
    )
    return (
        "<p>Rollout sandbox: choose the CRM accounts this assistant may use.</p>"
        f"<h2>Connected accounts</h2>{connected}"
        f'<h2>Add an account</h2><div class="providers">{buttons}</div>'
    )


def _page(title: str, body: str, *, status: int = 200) -> HTMLResponse:
    html = (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width,initial-scale=1">'
        '<meta name="referrer" content="no-referrer">'
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head>"
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=_PRIVATE_HEADERS)
