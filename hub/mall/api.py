"""The mall service's HTTP API (FastAPI via ``hub.http``), its staff dashboard and the public citizen page.

    GET  /v1/requests/{request_id}        a request (or journey) with its history         staff
    GET  /v1/requests?agency=&service=&village=&kecamatan=&status=&sla=&updated_since=&kind=&open=&order=
                     &limit=&cursor=      cursor paging, 50 by default, 200 at most       staff (scoped)
    GET  /v1/agencies/{code}/summary      open, new today, ..., lead time                 staff (scoped)
    GET  /v1/summary                      the same for the mall (or the principal's agency)
    GET  /v1/stream                       server-sent events of the feed, Last-Event-ID   staff (scoped)
    POST /v1/session  DELETE /v1/session  GET /v1/me      sign in (cookie) / out / who am I
    POST /v1/citizen/lookup               one request by number + last 4 NIK digits       public, rate-limited
    POST /v1/disclosures                  who received this citizen's data (NIK in)       manager
    POST /v1/disclosures/export?format=   the same as CSV or PDF                          manager
    GET  /v1/breach-scope?recipient=&start=&end=   which citizens and fields went there   manager
    GET  /   GET /citizen   GET /static/...           the dashboard and the citizen page

Errors have the hub's one shape (``hub.http.errors``): 401 without credentials, 403 outside the role's scope
(the field named), 404 for what is not there (or not the principal's to see), 422 naming the bad field, 429
over the citizen page's rate. The OpenAPI document is ``docs/openapi-mall.json`` (a unit test keeps it
current).
"""



import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

from fastapi import Depends, FastAPI, Header, Request, Response
from fastapi import Path as PathParam
from fastapi import Query as Q
from fastapi.responses import FileResponse, StreamingResponse
from fastapi.security import APIKeyCookie, HTTPAuthorizationCredentials, HTTPBearer
from fastapi.staticfiles import StaticFiles

from hub import __version__, metrics
from hub.core.enrichment import citizen_ref
from hub.core.lifecycle import Status
from hub.http.errors import ApiError, install
from hub.mall import disclosures as disc
from hub.mall.auth import SESSION_COOKIE, Principal, Role, Sessions, StaffDirectory
from hub.mall.citizen import RateLimiter, matches
from hub.mall.models import (
    BreachScopeOut,
    CitizenOut,
    CitizenQuery,
    CitizenStep,
    DisclosureOut,
    DisclosureQuery,
    DisclosuresOut,
    MeOut,
    PageOut,
    RequestDetail,
    RequestOut,
    ScopeOut,
    SessionIn,
    StepOut,
    SummaryOut,
)
from hub.mall.store import BadCursor, Query, ViewStore
from hub.mall.stream import Broadcaster
from hub.mall.view import RequestRow, citizen_text, status_label
from hub.settings import Settings

log = logging.getLogger("hub.mall")

STATIC = Path(__file__).resolve().parent / "static"
NOT_FOUND = "no request matches this number and these digits"
PAGE_HEADERS = {"Content-Security-Policy": "default-src 'self'; img-src 'self' data:; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
CODE = Annotated[str | None, Q(max_length=64, pattern=r"^[A-Za-z0-9._-]+$")]


@dataclass
class MallContext:
    """What the app's handlers use (the service builds it; tests build their own)."""

    settings: Settings
    store: ViewStore
    broadcaster: Broadcaster
    staff: StaffDirectory
    sessions: Sessions
    limiter: RateLimiter
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    @property
    def key(self) -> bytes | None:
        key = self.settings.citizen_ref_key
        return key.get_secret_value().encode() if key else None


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _visible(principal: Principal, row: RequestRow) -> bool:
    if principal.agency is None:
        return True
    return row.agency == principal.agency


def _scope(principal: Principal, agency: str | None, field: str = "query.agency") -> str | None:
    """The agency a list may cover: the principal's own if scoped (another one is refused)."""
    if principal.agency is None:
        return agency
    if agency is not None and agency != principal.agency:
        raise ApiError(403, field,
                       f"a {principal.role.value} of {principal.agency} sees only {principal.agency}")
    return principal.agency


def create_app(ctx: MallContext) -> FastAPI:
    app = install(FastAPI(title="Banyuwangi service mall (MPP) API", version=__version__,
                          description=(__doc__ or "").split("\n\n")[0]))
    bearer = HTTPBearer(auto_error=False, description="a staff token (`hub mall token`)")
    cookie = APIKeyCookie(name=SESSION_COOKIE, auto_error=False,
                          description="a dashboard session (POST /v1/session)")

    def staff(request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
              sid: Annotated[str | None, Depends(cookie)]) -> Principal:
        principal = ctx.staff.principal(creds.credentials) if creds else ctx.sessions.get(sid)
        if principal is None:
            raise ApiError(401, "Authorization", "a staff token or a dashboard session is needed",
                           headers={"WWW-Authenticate": "Bearer"})
        return principal

    def manager(principal: Annotated[Principal, Depends(staff)]) -> Principal:
        if not principal.manager:
            raise ApiError(403, "role", f"only a manager may read disclosures, not a {principal.role.value}")
        return principal

    Staff = Annotated[Principal, Depends(staff)]
    Manager = Annotated[Principal, Depends(manager)]

    async def detail(row: RequestRow, principal: Principal) -> RequestDetail:
        children = [c for c in await ctx.store.children(row.request_id) if _visible(principal, c)]
        history: list[StepOut] = []
        for source in (children if row.kind == "journey" else [row]):
            steps = await ctx.store.steps(source.request_id)
            history += [StepOut.of(source, s, i) for i, s in enumerate(steps)]
        history.sort(key=lambda s: (s.occurred_at, s.event_id))
        base = RequestOut.of(row).model_dump()
        return RequestDetail(**base, history=history, children_rows=[RequestOut.of(c) for c in children])

    @app.get("/v1/requests/{request_id}", response_model=RequestDetail, tags=["requests"])
    async def get_request(principal: Staff,
                          request_id: Annotated[str, PathParam(min_length=1,
                                                               max_length=128)]) -> RequestDetail:
        """A request (or journey) with its whole history, oldest first."""
        row = await ctx.store.get(request_id)
        if row is None or not (_visible(principal, row) or (row.kind == "journey" and any(
                _visible(principal, c) for c in await ctx.store.children(request_id)))):
            raise ApiError(404, "request_id", "no such request")
        return await detail(row, principal)

    @app.get("/v1/requests", response_model=PageOut, tags=["requests"])
    async def list_requests(
            principal: Staff, agency: CODE = None, service: CODE = None,
            village: Annotated[str | None, Q(max_length=32, pattern=r"^[0-9.]+$")] = None,
            kecamatan: Annotated[str | None, Q(max_length=16, pattern=r"^[0-9.]+$")] = None,
            status: Status | None = None, sla: Literal["at_risk", "breached"] | None = None,
            updated_since: datetime | None = None, kind: Literal["request", "journey"] | None = None,
            open: bool | None = None, actor: Literal["citizen", "agency", "none"] | None = None,
            order: Literal["oldest", "newest", "recent"] = "oldest",
            limit: Annotated[int, Q(ge=1, le=200)] = 50,
            cursor: Annotated[str | None, Q(max_length=400)] = None) -> PageOut:
        """Requests matching every filter given, ``order`` by submission (oldest or newest first) or by latest
        status (recent); ``next_cursor`` fetches the next page."""
        query = Query(agency=_scope(principal, agency), service=service, village=village, kecamatan=kecamatan,
                      status=status, sla=sla, updated_since=_utc(updated_since), kind=kind, open=open,
                      actor=actor, order=order, limit=limit, cursor=cursor)
        try:
            page = await ctx.store.page(query)
        except BadCursor as exc:
            raise ApiError(422, "query.cursor", str(exc)) from None
        return PageOut(items=[RequestOut.of(r) for r in page.rows], next_cursor=page.next_cursor)

    async def summary_of(agency: str | None) -> SummaryOut:
        found = await ctx.store.summary(ctx.clock(), agency=agency,
                                        window_days=ctx.settings.mall_lead_window_days)
        return SummaryOut.of(found)

    @app.get("/v1/agencies/{code}/summary", response_model=SummaryOut, tags=["summaries"])
    async def agency_summary(principal: Staff, code: Annotated[str, PathParam(
            max_length=64, pattern=r"^[a-z][a-z0-9_]*$")]) -> SummaryOut:
        """One agency's counts, oldest open request and lead time."""
        return await summary_of(_scope(principal, code, "code"))

    @app.get("/v1/summary", response_model=SummaryOut, tags=["summaries"])
    async def mall_summary(principal: Staff) -> SummaryOut:
        """The mall's counts (a scoped principal's: its agency's), by agency, service and kecamatan too."""
        return await summary_of(principal.agency)

    @app.get("/v1/stream", tags=["stream"], response_class=StreamingResponse,
             responses={200: {"content": {"text/event-stream": {}}, "description": "server-sent events"}})
    async def stream(principal: Staff, last_event_id: Annotated[str | None, Header(
            alias="Last-Event-ID", max_length=64)] = None) -> StreamingResponse:
        """New steps of the feed as the view stores them (``id``: partition:offset); resume: Last-Event-ID."""
        after, reload = await ctx.broadcaster.resume_point(last_event_id)
        return StreamingResponse(ctx.broadcaster.frames(after, principal.agency, reload=reload),
                                 media_type="text/event-stream",
                                 headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    @app.post("/v1/session", response_model=MeOut, tags=["staff"])
    async def sign_in(body: SessionIn, response: Response) -> MeOut:
        """Exchange a staff token for a dashboard session cookie (HttpOnly, SameSite=Strict)."""
        principal = ctx.staff.principal(body.token)
        if principal is None:
            raise ApiError(401, "token", "unknown token")
        response.set_cookie(SESSION_COOKIE, ctx.sessions.create(principal), httponly=True, samesite="strict",
                            max_age=ctx.settings.mall_session_minutes * 60, path="/")
        return MeOut(**Sessions.describe(principal))

    @app.delete("/v1/session", status_code=204, tags=["staff"])
    async def sign_out(request: Request, response: Response) -> Response:
        ctx.sessions.drop(request.cookies.get(SESSION_COOKIE))
        response.delete_cookie(SESSION_COOKIE, path="/")
        response.status_code = 204
        return response

    @app.get("/v1/me", response_model=MeOut, tags=["staff"])
    async def me(principal: Staff) -> MeOut:
        return MeOut(**Sessions.describe(principal))

    @app.post("/v1/citizen/lookup", response_model=CitizenOut, tags=["citizen"],
              responses={404: {"description": NOT_FOUND}, 429: {"description": "too many look-ups"}})
    async def citizen_lookup(body: CitizenQuery, request: Request) -> CitizenOut:
        """A citizen's view of one request: its number and the last 4 digits of the applicant's NIK."""
        client = request.client.host if request.client else "-"
        keys = (f"ip:{client}", f"id:{body.request_id}")
        if not ctx.limiter.allow(*keys):
            metrics.MALL_CITIZEN_LOOKUPS.labels("limited").inc()
            raise ApiError(429, "(request)", "too many look-ups; try again later",
                           headers={"Retry-After": str(ctx.limiter.retry_after(*keys))})
        row = await ctx.store.get(body.request_id)
        ok = matches(row.citizen_check if row else None, body.request_id, body.nik_last4,
                     ctx.key)  # always hashed
        if row is None or not ok:
            metrics.MALL_CITIZEN_LOOKUPS.labels("refused").inc()
            raise ApiError(404, "request_id", NOT_FOUND)
        metrics.MALL_CITIZEN_LOOKUPS.labels("found").inc()
        steps = await ctx.store.steps(row.request_id)
        shared = await ctx.store.request_disclosures(row.request_id)
        return CitizenOut(
            request_id=row.request_id, service_name=row.service_name, agency_name=row.agency_name,
            status=row.status, status_label=status_label(row.status), updated_at=row.updated_at,
            next_actor=row.next_actor, due_at=row.due_at,
            history=[CitizenStep(status=s.status, status_label=status_label(s.status),
                                 occurred_at=s.occurred_at,
                                 text=citizen_text(row, s, i)) for i, s in enumerate(steps)],
            disclosures=[DisclosureOut.of(d) for d in shared])

    def ref_of(body: DisclosureQuery) -> str:
        ref = citizen_ref(body.nik, ctx.key)
        if ref is None:
            raise ApiError(503, "(server)", "HUB_CITIZEN_REF_KEY is not set: disclosures cannot be looked up")
        return ref

    @app.post("/v1/disclosures", response_model=DisclosuresOut, tags=["disclosures"])
    async def disclosures(_: Manager, body: DisclosureQuery) -> DisclosuresOut:
        """Every delivery of this citizen's personal data (UU 27/2022 art. 31-32); the NIK is hashed, not
        kept."""
        found = await ctx.store.disclosures(ref_of(body))
        return DisclosuresOut(deliveries=len(found), requests=len({d.request_id for d in found}),
                              items=[DisclosureOut.of(d) for d in found])

    @app.post("/v1/disclosures/export", tags=["disclosures"], response_class=Response,
              responses={200: {"content": {"text/csv": {}, "application/pdf": {}}}})
    async def export(_: Manager, body: DisclosureQuery,
                     format: Literal["csv", "pdf"] = "csv") -> Response:  # noqa: A002 - the query's name
        """The same list for the citizen, as CSV or PDF."""
        found = await ctx.store.disclosures(ref_of(body))
        name = f"data-pribadi-{ctx.clock():%Y%m%d}"
        if format == "pdf":
            return Response(disc.to_pdf(found, generated_at=ctx.clock()), media_type="application/pdf",
                            headers={"Content-Disposition": f'attachment; filename="{name}.pdf"'})
        return Response(disc.to_csv(found), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})

    @app.get("/v1/breach-scope", response_model=BreachScopeOut, tags=["disclosures"])
    async def breach_scope(_: Manager, recipient: Annotated[str, Q(min_length=1, max_length=80)],
                           start: datetime, end: datetime) -> BreachScopeOut:
        """Which citizens (by reference) and which of their fields went to ``recipient`` in [start, end)."""
        t1, t2 = _utc(start), _utc(end)
        assert t1 is not None and t2 is not None
        if t2 <= t1:
            raise ApiError(422, "query.end", "must be after start")
        found = await ctx.store.breach_scope(recipient, t1, t2)
        scope = disc.breach_scope(found)
        return BreachScopeOut(recipient=recipient, start=t1, end=t2, citizens=len(scope),
                              deliveries=len(found),
                              items=[ScopeOut.of(c) for c in scope])

    @app.get("/", include_in_schema=False)
    async def dashboard() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers=PAGE_HEADERS)

    @app.get("/citizen", include_in_schema=False)
    async def citizen_page() -> FileResponse:
        return FileResponse(STATIC / "citizen.html", headers=PAGE_HEADERS)

    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def openapi() -> dict[str, Any]:
    """The API's OpenAPI document (``docs/openapi-mall.json``), from a context nothing is read from."""
    settings = Settings()  # from the environment
    ctx = MallContext(settings, None, None, StaffDirectory(), Sessions(), RateLimiter(1))  # type: ignore[arg-type]
    return create_app(ctx).openapi()


__all__ = ["MallContext", "Role", "create_app", "openapi"]
