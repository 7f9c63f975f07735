"""The composition root: builds settings-driven services, the Bolt AsyncApp and the aiohttp server. No logic here.

This is the one module under bot/ that knows handlers/ exists: it is where they are wired to the app.
"""

from __future__ import annotations

import asyncio
import gc
import hashlib
import hmac
import html
import logging
import signal
import time
from datetime import timedelta
from urllib.parse import urlsplit

import aiohttp
from aiohttp import web
from slack_bolt.adapter.aiohttp import to_aiohttp_response, to_bolt_request
from slack_bolt.async_app import AsyncApp
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_sdk.http_retry.builtin_async_handlers import AsyncRateLimitErrorRetryHandler, async_default_handlers

from bot import metrics
from bot.config import Settings, Unreachable, cannot_listen
from bot.crm import CrmService
from bot.database_check import UNREACHABLE_ERRORS, unreachable_message
from bot.follows import DIGEST, Follows
from bot.logs import configure_logging
from bot.maintenance import prune_forever
from bot.reminders import REMINDER, Reminders
from bot.rollout.pool import SessionPool
from bot.schedule import ReadBudget, Scheduler, TimeZones
from bot.services import BackgroundWork, Services
from bot.store import Store
from bot.work import AckedWork

log = logging.getLogger(__name__)

SLACK_PATH = metrics.SLACK_EVENTS_PATH
METRICS_PATH = "/metrics"
APP_NAME = "Rollout"  # manifest.yml's display name
INSTALL_PATH = "/slack/install"  # Bolt's defaults, named here for the web routes
OAUTH_REDIRECT_PATH = "/slack/oauth_redirect"
# Connections the kernel holds for us while the event loop is busy. Past aiohttp's default of 128, a burst of Slack
# deliveries has its connection attempts dropped, and the kernel tries again only a second later.
LISTEN_BACKLOG = 1024
SIGNATURE_MAX_AGE_SECONDS = 5 * 60  # as Slack asks, against replays


async def build_services(settings: Settings, *, migrate: bool = True) -> Services:
    settings.require_rollout()
    settings.require_store()
    assert settings.rollout_client_id is not None and settings.rollout_client_secret is not None
    store = await open_store(settings, migrate=migrate)
    minter = metrics.MeteredTokenMinter(
        settings.rollout_client_id, settings.rollout_client_secret.get_secret_value(), settings.rollout_token_ttl
    )
    tokens = metrics.MeteredTokenService(minter, store.users)
    pool = SessionPool(
        settings.rollout_mcp_url,
        tokens,
        max_sessions=settings.rollout_pool_size,
        idle_seconds=settings.rollout_pool_idle_seconds,
        connect_timeout=settings.rollout_timeout_seconds,
    )
    mcp_url = urlsplit(settings.rollout_mcp_url)
    rollout = metrics.MeteredRolloutClient(
        pool,
        timeout=settings.rollout_timeout_seconds,
        tool_names=settings.rollout_tool_overrides,
        rollout_origin=f"{mcp_url.scheme}://{mcp_url.netloc}",
    )
    metrics.observe_pool(pool)
    crm = CrmService(rollout, store, tokens, settings.rollout_mcp_url)
    acked = AckedWork(store.deliveries, lease_seconds=settings.work_lease_seconds)
    scheduler = Scheduler(store, lease_seconds=settings.work_lease_seconds)
    time_zones = TimeZones(store, messenger=None)
    budget = ReadBudget(store, settings.digest_overviews_per_minute)
    follows = Follows(store, crm, time_zones, budget, clock=scheduler.clock)
    reminders = Reminders(store, crm, time_zones, budget, clock=scheduler.clock)
    scheduler.handle(DIGEST, follows.run)
    scheduler.handle(REMINDER, reminders.run)
    crm.on_task_created(reminders.task_created)
    services = Services(
        settings,
        store,
        tokens,
        pool,
        rollout,
        crm,
        BackgroundWork(acked),
        acked,
        scheduler,
        time_zones,
        follows,
        reminders,
    )
    if settings.oauth_enabled:
        assert settings.slack_client_id is not None
        services.installations = store.slack_installations(settings.slack_client_id)
    if settings.llm_enabled:
        from bot.agent import build_agent  # imported only when configured: the no-LLM commands don't need it

        services.agent = build_agent(settings, store, crm, rollout)
    return services


async def open_store(settings: Settings, *, migrate: bool = True) -> Store:
    """The store, migrated to the code's schema; a database that cannot be reached is one Unreachable line."""
    store = await Store.open(settings.database_url, settings.encryption_keys)
    try:
        if migrate:
            await store.migrate()
    except UNREACHABLE_ERRORS as error:
        await store.close()
        raise Unreachable(unreachable_message(settings.database_url, error)) from None
    except BaseException:
        await store.close()
        raise
    return store


def build_slack_app(settings: Settings, services: Services) -> AsyncApp:
    settings.require_slack()
    assert settings.slack_signing_secret is not None
    if services.slack_http is None:
        services.slack_http = aiohttp.ClientSession()
    oauth: AsyncOAuthSettings | None = None
    token: str | None = None
    if services.installations is not None:
        # Many workspaces: each request's bot token comes from its installation (refreshed by Bolt before it expires
        # when token rotation is on); /slack/install and /slack/oauth_redirect run the "Add to Slack" flow.
        assert settings.slack_client_id is not None and settings.slack_client_secret is not None
        oauth = AsyncOAuthSettings(
            client_id=settings.slack_client_id,
            client_secret=settings.slack_client_secret.get_secret_value(),
            scopes=[scope.strip() for scope in settings.slack_scopes.split(",") if scope.strip()],
            redirect_uri=settings.slack_redirect_uri,
            installation_store=services.installations,
            state_store=services.store.slack_oauth_states(),
            # Bolt then answers with a redirect to Slack; build_web_app shows our page with that link instead.
            install_page_rendering_enabled=False,
        )
    else:
        assert settings.slack_bot_token is not None
        token = settings.slack_bot_token.get_secret_value()
    # Bolt makes the web client from the token: handed a ready client, it also reads SLACK_BOT_TOKEN from the
    # environment and warns at every start that the token is unused. The client is then given our transport.
    app = AsyncApp(
        token=token,
        signing_secret=settings.slack_signing_secret.get_secret_value(),
        oauth_settings=oauth,
        # Given to the app itself too, so the authorization (and its token rotation) uses the client below.
        installation_store=services.installations,
        # build_web_app checks every signature before anything reads the body (Socket Mode needs none): Bolt's own
        # check would only repeat it on each delivery.
        request_verification_enabled=False,
        logger=logging.getLogger("bot.slack"),
    )
    client = app.client
    client.token = token  # with installations, none: Bolt's environment fallback must not put one back
    client.session = services.slack_http  # kept by the per-request clients Bolt makes, and used for response_urls
    # Slack answers 429 before doing anything, so waiting Retry-After and sending again cannot duplicate a post.
    client.retry_handlers = [
        metrics.SlackResponseMeter(),  # first, so it sees every response, including the 429s retried below
        *async_default_handlers(),
        AsyncRateLimitErrorRetryHandler(max_retry_count=2),
    ]
    if settings.slack_api_url:
        client.base_url = settings.slack_api_url.rstrip("/") + "/"
    app.use(metrics.bolt_request_context)
    import handlers  # the composition root is the one place bot/ reaches into handlers/
    from handlers.slack.notifications import SlackMessenger

    secret = settings.slack_client_secret.get_secret_value() if settings.slack_client_secret else None
    # Digests and reminders reach people outside any request: through Slack from here on.
    services.time_zones.messenger = SlackMessenger.for_app(
        client, services.installations, settings.slack_client_id, secret
    )

    handlers.register_all(app, services)
    return app


def build_web_app(slack_app: AsyncApp, services: Services, *, slack_over_http: bool = True) -> web.Application:
    """/healthz and /metrics (unless METRICS_PORT); with `slack_over_http`, also the routes Slack and browsers reach."""
    secret = services.settings.slack_signing_secret
    assert secret is not None, "build_slack_app checks the Slack settings first"
    signing_key = secret.get_secret_value().encode()

    async def slack_events(request: web.Request) -> web.Response:
        # Bolt parses the body (JSON, payload=) before its own signature check: a forged malformed body would reach
        # that parser and log a traceback. So nothing reads the body as Slack data, not even as text, until the
        # signature over its raw bytes holds.
        raw = await request.read()
        timestamp = request.headers.get("X-Slack-Request-Timestamp", "")
        signature = request.headers.get("X-Slack-Signature", "")
        if not slack_signed(signing_key, raw, timestamp, signature, time.time()):
            return web.json_response({"error": "invalid request"}, status=401)
        try:
            body = raw.decode("utf-8")
            # Bolt's stubs want a dict of headers; aiohttp's multidict is what Bolt's own aiohttp adapter passes too.
            bolt_request = AsyncBoltRequest(body=body, query=request.query_string, headers=request.headers)  # type: ignore[arg-type]
        except (ValueError, TypeError, AttributeError, KeyError) as error:  # signed, yet not shaped like Slack's
            # The type only: a decoder's message quotes the body's bytes.
            log.warning("signed request with an unreadable body: %s", type(error).__name__)
            return web.json_response({"error": "bad request"}, status=400)
        return await to_aiohttp_response(await slack_app.async_dispatch(bolt_request))

    async def install(request: web.Request) -> web.Response:
        # The "Add to Slack" page and Slack's redirect back: plain GETs, no signature; Bolt checks the OAuth state.
        assert slack_app.oauth_flow is not None
        response = await to_aiohttp_response(
            await slack_app.oauth_flow.handle_installation(await to_bolt_request(request))
        )
        authorize_url = response.headers.pop("Location", None)
        if authorize_url is None:
            return response
        response.set_status(200)  # keeps the state cookie Bolt set
        response.text = install_page(authorize_url, https=_reached_over_https(request))
        response.content_type = "text/html"
        response.charset = "utf-8"
        return response

    async def oauth_redirect(request: web.Request) -> web.Response:
        assert slack_app.oauth_flow is not None
        return await to_aiohttp_response(await slack_app.oauth_flow.handle_callback(await to_bolt_request(request)))

    async def healthz(_: web.Request) -> web.Response:
        return web.json_response({"ok": True})

    async def on_shutdown(_: web.Application) -> None:
        # aiohttp runs this once the listening socket is closed and open connections take no further requests.
        grace = services.settings.shutdown_grace_seconds
        log.info("stopping: no new requests; acked work gets up to %s s to finish", grace)

    async def on_cleanup(_: web.Application) -> None:
        await services.close()

    web_app = web.Application(middlewares=[metrics.time_slack_acks])
    web_app.router.add_get("/healthz", healthz)
    if slack_over_http:
        web_app.router.add_post(SLACK_PATH, slack_events)
    if slack_over_http and services.installations is not None:
        web_app.router.add_get(INSTALL_PATH, install)
        web_app.router.add_get(OAUTH_REDIRECT_PATH, oauth_redirect)
    if services.settings.metrics_port is None:
        web_app.router.add_get(METRICS_PATH, metrics.metrics_handler)
    web_app.on_shutdown.append(on_shutdown)
    web_app.on_cleanup.append(on_cleanup)
    return web_app


ADD_TO_SLACK_IMAGE = "https://platform.slack-edge.com/img/add_to_slack.png"  # Slack's button, as Bolt's page has it
ADD_TO_SLACK_IMAGE_2X = "https://platform.slack-edge.com/img/add_to_slack@2x.png"


def _reached_over_https(request: web.Request) -> bool:
    """HTTPS as the browser sees it: a PaaS ends TLS at its proxy and says so in X-Forwarded-Proto."""
    forwarded = request.headers.get("X-Forwarded-Proto", "").split(",")[0].strip().lower()
    return request.scheme == "https" or forwarded == "https"


def install_page(authorize_url: str, *, https: bool) -> str:
    """The "Add to Slack" page: Bolt's link to Slack's consent screen, with our name, and a warning over plain HTTP."""
    warning = (
        ""
        if https
        else '<p class="warning">This page needs HTTPS: the install keeps its state in a Secure cookie, which a '
        "browser drops over plain HTTP, so Slack's answer would be refused. Open it at https://</p>\n"
    )
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Add {APP_NAME} to Slack</title>
<link rel="icon" href="data:,">
<style>
body {{ padding: 10px 15px; font-family: sans-serif; text-align: center; }}
.warning {{ color: #a00; max-width: 40em; margin: 1em auto; }}
</style>
</head>
<body>
<h1>{APP_NAME}</h1>
<p>Your CRM in Slack, through Rollout.</p>
{warning}<p><a href="{html.escape(authorize_url)}"><img alt="Add to Slack" height="40" width="139"
 src="{ADD_TO_SLACK_IMAGE}"
 srcset="{ADD_TO_SLACK_IMAGE} 1x, {ADD_TO_SLACK_IMAGE_2X} 2x"></a></p>
</body>
</html>
"""


def slack_signed(key: bytes, body: bytes, timestamp: str, signature: str, now: float) -> bool:
    """Slack's v0 signature over the body's raw bytes, from a request at most five minutes old.

    slack_sdk's SignatureVerifier takes bytes but decodes them as UTF-8 first, so a forged body that is not UTF-8
    would raise there instead of being refused; Slack signs bytes, so the check is done on bytes.
    """
    if not (timestamp.isascii() and timestamp.isdigit()) or abs(now - int(timestamp)) > SIGNATURE_MAX_AGE_SECONDS:
        return False
    expected = "v0=" + hmac.new(key, b"v0:" + timestamp.encode() + b":" + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected.encode(), signature.encode(errors="replace"))  # any header text refuses


def freeze_startup_heap() -> None:
    """Keep what startup built (modules, services, the app) out of the garbage collector's full passes.

    Those objects live as long as the process, yet every full collection walks them all: with the startup heap in
    play a full pass paused the event loop for up to ~180 ms mid-burst, with it frozen ~40 ms (bench ack phase).
    """
    gc.collect()  # what startup already threw away is freed first, not kept for good
    gc.freeze()


async def listen(runner: web.AppRunner, host: str, port: int | None, setting: str = "PORT") -> None:
    try:
        await web.TCPSite(runner, host, port, backlog=LISTEN_BACKLOG).start()
    except OSError as error:
        raise cannot_listen(port, error, f"set {setting} to a free port") from None


async def serve(settings: Settings) -> None:
    """Run until SIGTERM or SIGINT: Socket Mode when SLACK_APP_TOKEN is set, else HTTP on PORT.

    On the signal it stops taking requests, lets acked work finish for up to SHUTDOWN_GRACE_SECONDS, and returns.
    """
    configure_logging(settings.log_level, settings.log_format, settings.log_libraries)
    settings.require_serve()
    services = await build_services(settings)
    slack_app = build_slack_app(settings, services)
    freeze_startup_heap()
    retention = timedelta(days=settings.retention_days)
    pruning = asyncio.create_task(prune_forever(services.store, retention=retention), name="prune")
    from handlers.slack.recovery import recoverer  # the composition root wires the takeover to the Slack app

    # Renews this process's leases and takes over work another process (or this one, before a restart) left.
    kept = asyncio.Event()
    keeping = asyncio.create_task(services.work.keep(recoverer(slack_app, services), stop=kept), name="acked work")
    # Morning digests and task reminders, from whichever process claims them first.
    scheduling = asyncio.create_task(services.scheduler.keep(stop=kept), name="scheduled work")
    stopping = _event_on_signals(signal.SIGTERM, signal.SIGINT)
    grace = settings.shutdown_grace_seconds
    socket_mode = settings.slack_app_token is not None
    try:
        # Socket Mode too serves /healthz (and /metrics) on PORT: a platform's health check must not depend on Slack.
        web_app = build_web_app(slack_app, services, slack_over_http=not socket_mode)
        runners = [web.AppRunner(web_app, access_log=None, shutdown_timeout=grace)]
        if settings.metrics_port is not None:
            # An aiohttp site on the same loop rather than prometheus_client's start_http_server: that one serves from
            # a daemon thread (the pool collector would then read live pools off the loop's thread) and has no
            # graceful stop; this runner keeps answering scrapes while acked work drains, and is cleaned up with it.
            metrics_app = web.Application()
            metrics_app.router.add_get(METRICS_PATH, metrics.metrics_handler)
            runners.append(web.AppRunner(metrics_app, access_log=None, shutdown_timeout=1.0))
        connection: _SocketMode | None = None
        try:
            ports = ((settings.port, "PORT"), (settings.metrics_port, "METRICS_PORT"))
            for runner, (port, setting) in zip(runners, ports, strict=False):
                await runner.setup()
                await listen(runner, "0.0.0.0", port, setting)  # a PaaS routes to all interfaces
            log.info("listening on port %s", settings.port)
            log.info("%s", metrics_location(settings))
            connection = _SocketMode(slack_app, settings) if socket_mode else None
            await stopping.wait()
        finally:
            if connection is not None:
                await connection.stop(grace)
            # Before the store closes: a round cut off by the closing store would take the cancellation for a
            # database error and sleep on, holding the exit for an hour.
            pruning.cancel()
            await asyncio.gather(pruning, return_exceptions=True)
            for runner in runners:
                await runner.cleanup()  # the Slack app's on_cleanup closes the services, draining acked work
        log.info("stopped")
    finally:
        pruning.cancel()
        kept.set()  # after the drain: leases were renewed while acked work finished
        await asyncio.gather(keeping, scheduling)


def metrics_location(settings: Settings) -> str:
    """Where Prometheus should scrape, said once at start."""
    if settings.metrics_port is None:
        return f"metrics: GET {METRICS_PATH} on port {settings.port} (set METRICS_PORT to serve them apart)"
    return f"metrics: GET {METRICS_PATH} on port {settings.metrics_port} (METRICS_PORT), not on port {settings.port}"


class _SocketMode:
    """Slack's events over a WebSocket, connected in the background so a signal is heard whatever its state.

    slack_sdk's connect retries without end while Slack is unreachable or refuses the app token; awaited directly, it
    would never return to wait for SIGTERM.
    """

    def __init__(self, slack_app: AsyncApp, settings: Settings) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        assert settings.slack_app_token is not None
        self.handler = AsyncSocketModeHandler(slack_app, settings.slack_app_token.get_secret_value())
        log.info("connecting to Slack over Socket Mode")
        self.connecting = asyncio.create_task(self._connect(), name="socket-mode-connect")

    async def _connect(self) -> None:
        await self.handler.connect_async()
        log.info("connected over Socket Mode")

    async def stop(self, grace: float) -> None:
        """No new events from Slack: stop connecting, or close the connection (within `grace` if Slack is slow)."""
        self.connecting.cancel()
        try:
            async with asyncio.timeout(grace):
                await asyncio.gather(self.connecting, return_exceptions=True)
                await self.handler.close_async()
        except TimeoutError:
            log.warning("the Socket Mode connection did not close within %s s", grace)


def _event_on_signals(*signals: signal.Signals) -> asyncio.Event:
    """An event set by any of `signals`: the orderly way out, instead of an exception at some random await."""
    event = asyncio.Event()
    loop = asyncio.get_running_loop()
    for number in signals:
        loop.add_signal_handler(number, event.set)
    return event
