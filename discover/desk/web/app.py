"""The console's routes: every one declares the role it needs, and the guard enforces it.

Pages are rendered on the server (Starlette and Jinja2, autoescaped); the only script
polls a search's progress. URLs carry request ids and numbers, never an identifier;
page titles name the page and the request id only. The work itself is done by the
engine (:func:`discover.engine.search`), the case (:mod:`discover.case`), the review
(:mod:`discover.review`) and the exporters (:func:`exporters.export_package`).
"""

from __future__ import annotations

import contextlib
import io
import logging
import secrets
import zipfile
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from discover.deadlines import DUE_SOON_DAYS
from discover.desk.hooks import search_detail
from discover.desk.intake import new_request, parse_date
from discover.desk.passwords import password_matches
from discover.desk.schema import KINDS, SEARCH_KINDS, VERIFICATION_METHODS
from discover.desk.store import Desk, RequestRecord
from discover.desk.web.jobs import Job, Jobs, Progress
from discover.desk.web.security import (
    CSRF_FIELD,
    CSRF_HEADER,
    LOGIN_COOKIE,
    SESSION_COOKIE,
    LoginLimiter,
    SecurityHeaders,
    Session,
    Sessions,
    login_csrf,
    same_token,
)
from discover.errors import DiscoverError
from discover.identifiers import IDENTIFIER_TYPES
from discover.request import REQUEST_ID, new_request_id

log = logging.getLogger(__name__)
HERE = Path(__file__).resolve().parent.parent
TEMPLATES = Jinja2Templates(directory=str(HERE / "templates"))
Handler = Callable[[Request], Awaitable[Response]]
FORMATS = ("json", "csv", "xlsx")


class Console:
    """The state the routes share: the register, sessions, limits and search jobs."""

    def __init__(self, desk: Desk, sources_file: Path | None) -> None:
        self.desk = desk
        self.sources_file = sources_file or desk.sources_file
        self.sessions = Sessions()
        self.limiter = LoginLimiter()
        self.jobs = Jobs()
        self.secret = secrets.token_bytes(32)


def _console(request: Request) -> Console:
    return request.app.state.console  # type: ignore[no-any-return]


def _secure(request: Request) -> bool:
    return request.url.scheme == "https"


def render(
    request: Request, template: str, context: dict[str, Any] | None = None, status: int = 200
) -> Response:
    session: Session | None = getattr(request.state, "session", None)
    values = {
        "session": session,
        "csrf": session.csrf if session else "",
        "csrf_field": CSRF_FIELD,
        **(context or {}),
    }
    return TEMPLATES.TemplateResponse(request, template, values, status_code=status)


def guarded(role: str) -> Callable[[Handler], Handler]:
    """Require a session of at least ``role``; POSTs also need the session's CSRF token."""

    def wrap(handler: Handler) -> Handler:
        async def endpoint(request: Request) -> Response:
            console = _console(request)
            session = console.sessions.get(request.cookies.get(SESSION_COOKIE))
            if session is None:
                return render(request, "anonymous.html", status=401)
            request.state.session = session
            if not session.may(role):
                return render(request, "error.html", {"message": "Not for your role."}, 403)
            if request.method == "POST":
                form = await request.form()
                given = request.headers.get(CSRF_HEADER) or form.get(CSRF_FIELD)
                if not same_token(session.csrf, given):
                    return render(
                        request, "error.html", {"message": "The form has expired; reload."}, 403
                    )
            return await handler(request)

        endpoint.required_role = role  # type: ignore[attr-defined]
        endpoint.__name__ = handler.__name__
        return endpoint

    return wrap


def _request_id(request: Request) -> str:
    value = request.path_params["request_id"]
    if not REQUEST_ID.fullmatch(value):
        raise HTTPException(404)
    return str(value)


def _record(console: Console, request_id: str) -> RequestRecord:
    record = console.desk.find(request_id)
    if record is None:
        raise HTTPException(404)
    return record


def _case_dir(console: Console, request_id: str) -> Path | None:
    """The request's newest case on disk (the console's own or one linked by the CLI)."""
    from discover.case import is_case

    for link in reversed(console.desk.links(request_id, "case")):
        if is_case(Path(link.path)):
            return Path(link.path)
    own = console.desk.case_dir(request_id)
    return own if is_case(own) else None


def _packages(console: Console, request_id: str) -> list[Path]:
    seen: dict[str, Path] = {}
    for link in console.desk.links(request_id, "package"):
        path = Path(link.path)
        if path.exists():
            seen[path.name] = path
    return list(seen.values())


def _see_other(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


# -- login ------------------------------------------------------------------------------
async def login_form(request: Request, *, message: str = "", status: int = 200) -> Response:
    console = _console(request)
    token = secrets.token_urlsafe(32)
    response = render(
        request,
        "login.html",
        {"login_csrf": login_csrf(console.secret, token), "message": message},
        status,
    )
    response.set_cookie(
        LOGIN_COOKIE,
        token,
        max_age=15 * 60,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/login",
    )
    return response


async def login_page(request: Request) -> Response:
    return await login_form(request)


async def login(request: Request) -> Response:
    console = _console(request)
    form = await request.form()
    token = request.cookies.get(LOGIN_COOKIE, "")
    if not token or not same_token(login_csrf(console.secret, token), form.get(CSRF_FIELD)):
        return await login_form(request, message="The form has expired; try again.", status=403)
    name = str(form.get("username", ""))[:80]
    password = str(form.get("password", ""))
    address = f"addr:{request.client.host if request.client else '?'}"
    user_key = f"user:{name.lower()}"
    if console.limiter.blocked(address, user_key):
        return await login_form(
            request, message="Too many failed attempts; wait a few minutes.", status=429
        )
    user = await run_in_threadpool(console.desk.user, name) if name else None
    ok = await run_in_threadpool(password_matches, user[1] if user else None, password)
    if not ok or user is None:
        console.limiter.failed(address, user_key)
        await run_in_threadpool(console.desk.audit, "-", "login-failed")
        return await login_form(request, message="Wrong user name or password.", status=401)
    console.limiter.succeeded(address, user_key)
    session_token = console.sessions.create(name, user[0])
    await run_in_threadpool(console.desk.audit, name, "login")
    response = _see_other("/requests")
    response.set_cookie(
        SESSION_COOKIE,
        session_token,
        httponly=True,
        samesite="strict",
        secure=_secure(request),
        path="/",
    )
    response.delete_cookie(LOGIN_COOKIE, path="/login", httponly=True, samesite="strict")
    return response


@guarded("viewer")
async def logout(request: Request) -> Response:
    console = _console(request)
    session: Session = request.state.session
    console.sessions.drop(request.cookies.get(SESSION_COOKIE))
    await run_in_threadpool(console.desk.audit, session.user, "logout")
    response = _see_other("/login")
    response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict")
    return response


# -- the register -----------------------------------------------------------------------
@guarded("viewer")
async def home(request: Request) -> Response:
    return _see_other("/requests")


@guarded("viewer")
async def requests_page(request: Request) -> Response:
    console = _console(request)
    records = await run_in_threadpool(console.desk.listing)
    today = date.today()
    rows = [(r, r.urgency(today)) for r in records]
    counts = {
        "overdue": sum(1 for _, u in rows if u == "overdue"),
        "due-soon": sum(1 for _, u in rows if u == "due-soon"),
    }
    return render(
        request,
        "requests.html",
        {"rows": rows, "counts": counts, "today": today, "due_days": DUE_SOON_DAYS},
    )


def _new_form_context(values: dict[str, str], message: str = "") -> dict[str, Any]:
    return {
        "kinds": KINDS,
        "identifier_types": IDENTIFIER_TYPES,
        "values": values,
        "message": message,
    }


@guarded("officer")
async def new_request_page(request: Request) -> Response:
    values = {"request_id": new_request_id(), "received": date.today().isoformat()}
    return render(request, "new_request.html", _new_form_context(values))


@guarded("officer")
async def create_request(request: Request) -> Response:
    console = _console(request)
    session: Session = request.state.session
    form = await request.form()
    values = {key: str(form.get(key, "")).strip() for key in form if key != CSRF_FIELD}
    identifiers = [(kind, values.get(f"id_{kind}", "")) for kind in IDENTIFIER_TYPES]
    try:
        received = parse_date(values.get("received", ""), source="form", field="received")
        built = new_request(
            identifiers,
            request_id=values.get("request_id", ""),
            kind=values.get("kind", ""),
            received=received,
            language=values.get("language", "nl"),
            client=values.get("client") or None,
            source="form",
            prefix="",
        )
        await run_in_threadpool(
            console.desk.add_request, built, kind=values["kind"], actor=session.user
        )
    except DiscoverError as exc:
        return render(request, "new_request.html", _new_form_context(values, str(exc)), 400)
    return _see_other(f"/requests/{built.request_id}")


@guarded("viewer")
async def request_page(request: Request) -> Response:
    console = _console(request)
    record = _record(console, _request_id(request))
    session: Session = request.state.session
    officer = session.may("officer")
    return render(
        request,
        "request.html",
        {
            "record": record,
            "urgency": record.urgency(),
            "officer": officer,
            "identifiers": record.document.get("identifiers", []) if officer else [],
            "methods": VERIFICATION_METHODS,
            "case": _case_dir(console, record.request_id) if officer else None,
            "packages": _packages(console, record.request_id) if officer else [],
            "can_search": record.searchable and console.sources_file.is_file(),
            "sources_file": console.sources_file,
            "today": date.today().isoformat(),
            "message": _note(request),
        },
    )


#: the notes a page shows after a change: the URL names one by key, never free text
NOTES = {
    "verified": "identity verified",
    "extended": "deadline extended",
    "sent": "marked as sent",
    "closed": "closed",
    "exported": "package written",
    "incomplete": "package written, but INCOMPLETE: see the package",
    "confirm": "confirmed",
    "exclude": "excluded",
}


def _note(request: Request) -> str:
    text = NOTES.get(request.query_params.get("m", ""), "")
    number = request.query_params.get("n", "")
    return f"{text} #{number}" if text and number.isdigit() else text


def _done(request_id: str, note: str) -> RedirectResponse:
    return _see_other(f"/requests/{request_id}?m={note}")


@guarded("officer")
async def verify_request(request: Request) -> Response:
    console = _console(request)
    request_id = _request_id(request)
    _record(console, request_id)
    session: Session = request.state.session
    form = await request.form()
    try:
        await run_in_threadpool(
            console.desk.verify,
            request_id,
            method=str(form.get("method", "")),
            by=session.user,
            actor=session.user,
        )
    except DiscoverError as exc:
        return render(request, "error.html", {"message": str(exc)}, 400)
    return _done(request_id, "verified")


@guarded("officer")
async def extend_request(request: Request) -> Response:
    console = _console(request)
    request_id = _request_id(request)
    _record(console, request_id)
    session: Session = request.state.session
    form = await request.form()
    try:
        months_text = str(form.get("months", ""))
        if not months_text.isdigit():
            raise DiscoverError(f"months {months_text!r}: expected 1 or 2")
        told = parse_date(str(form.get("told", "")), source="form", field="told")
        await run_in_threadpool(
            console.desk.extend,
            request_id,
            months=int(months_text),
            reason=str(form.get("reason", "")),
            told=told,
            actor=session.user,
        )
    except DiscoverError as exc:
        return render(request, "error.html", {"message": str(exc)}, 400)
    return _done(request_id, "extended")


def _step(status: str) -> Handler:
    @guarded("officer")
    async def step(request: Request) -> Response:
        console = _console(request)
        request_id = _request_id(request)
        _record(console, request_id)
        session: Session = request.state.session
        await run_in_threadpool(
            lambda: console.desk.advance(request_id, status, actor=session.user, action=status)
        )
        return _done(request_id, status)

    step.__name__ = f"mark_{status}"
    return step


# -- search -----------------------------------------------------------------------------
@guarded("officer")
async def start_search(request: Request) -> Response:
    console = _console(request)
    request_id = _request_id(request)
    record = _record(console, request_id)
    session: Session = request.state.session
    if not record.searchable:
        return render(request, "error.html", {"message": "This kind is for follow-up."}, 400)

    def work(job: Job, progress: Progress) -> dict[str, Any]:
        from discover.case import write_case
        from discover.engine import search
        from discover.sources import load_sources

        sources = load_sources(console.sources_file)
        result = search(record.search_request(), sources, progress=progress)
        case_dir = console.desk.case_dir(request_id)
        summary = write_case(result, case_dir, force=True)
        console.desk.advance(
            request_id,
            "searched",
            actor=job.user,
            action="searched",
            detail=search_detail(summary),
            links=[("case", case_dir.resolve())],
        )
        return summary

    job = console.jobs.start(request_id, session.user, work)
    return _see_other(f"/jobs/{job.job_id}")


def _job(request: Request) -> Job:
    job = _console(request).jobs.get(str(request.path_params["job_id"]))
    if job is None:
        raise HTTPException(404)
    return job


@guarded("officer")
async def job_page(request: Request) -> Response:
    return render(request, "job.html", {"job": _job(request)})


@guarded("officer")
async def job_status(request: Request) -> Response:
    return JSONResponse(_job(request).to_document())


# -- case, review, export ---------------------------------------------------------------
def _read_case(console: Console, request_id: str) -> Any:
    from discover.case import read_case

    case_dir = _case_dir(console, request_id)
    if case_dir is None:
        raise HTTPException(404, "no case yet: run the search first")
    return read_case(case_dir)


@guarded("officer")
async def case_page(request: Request) -> Response:
    from discover.review import review_items

    console = _console(request)
    record = _record(console, _request_id(request))
    case = await run_in_threadpool(_read_case, console, record.request_id)
    items = await run_in_threadpool(review_items, case)
    by_source: dict[str, list[Any]] = {}
    for item in items:
        by_source.setdefault(item.source, []).append(item)
    return render(
        request,
        "case.html",
        {"record": record, "summary": case.summary, "by_source": by_source},
    )


@guarded("officer")
async def review_page(request: Request) -> Response:
    from discover.review import review_items

    console = _console(request)
    record = _record(console, _request_id(request))
    case = await run_in_threadpool(_read_case, console, record.request_id)
    items = await run_in_threadpool(review_items, case)
    shown = [i for i in items if i.match == "possible" or i.decision or i.overdue]
    return render(
        request,
        "review.html",
        {"record": record, "items": shown, "message": _note(request)},
    )


@guarded("officer")
async def review_decide(request: Request) -> Response:
    from discover.review import new_decision, record_decisions, resolve_ref, review_items

    console = _console(request)
    record = _record(console, _request_id(request))
    session: Session = request.state.session
    form = await request.form()
    case = await run_in_threadpool(_read_case, console, record.request_id)
    action = str(form.get("action", ""))
    try:
        items = review_items(case)
        item = resolve_ref(items, str(form.get("index", "")))
        decision = new_decision(
            item.ref,
            action,  # type: ignore[arg-type]
            reason=str(form.get("reason", "")),
            decided_by=session.user,
        )
        await run_in_threadpool(record_decisions, case.path, [decision])
    except DiscoverError as exc:
        return render(request, "error.html", {"message": str(exc)}, 400)
    await run_in_threadpool(
        lambda: console.desk.advance(
            record.request_id,
            "reviewed",
            actor=session.user,
            action="reviewed",
            detail={"decisions": {action: 1}, "record": item.index},
            links=[("case", case.path.resolve())],
        )
    )
    return _see_other(f"/requests/{record.request_id}/review?m={action}&n={item.index}")


@guarded("officer")
async def export_page(request: Request) -> Response:
    console = _console(request)
    record = _record(console, _request_id(request))
    return render(
        request,
        "export.html",
        {
            "record": record,
            "kinds": SEARCH_KINDS,
            "formats": FORMATS,
            "has_case": _case_dir(console, record.request_id) is not None,
            "language": record.document.get("language", "nl"),
        },
    )


@guarded("officer")
async def export_run(request: Request) -> Response:
    from exporters import export_package

    console = _console(request)
    record = _record(console, _request_id(request))
    session: Session = request.state.session
    form = await request.form()
    case_dir = _case_dir(console, record.request_id)
    if case_dir is None:
        return render(request, "error.html", {"message": "No case yet: search first."}, 400)
    kind = str(form.get("kind", ""))
    formats = [f for f in form.getlist("format") if f in FORMATS]
    language = str(form.get("language", ""))
    controller = str(form.get("controller", ""))
    client_instruction = str(form.get("client_instruction", "")).strip() or None
    problems = []
    if kind not in SEARCH_KINDS:
        problems.append("choose access or portability")
    if not formats:
        problems.append("choose at least one format")
    if language not in ("nl", "en"):
        problems.append("choose a language")
    if controller not in ("provider", "client", "all"):
        problems.append("choose the controller scope")
    if problems:
        return render(request, "error.html", {"message": "; ".join(problems)}, 400)
    try:
        result = await run_in_threadpool(
            lambda: export_package(
                case_dir,
                kind=kind,  # type: ignore[arg-type]
                formats=formats,
                language=language,
                controller=controller,  # type: ignore[arg-type]
                client_instruction=client_instruction,
                extension=record.extension,  # the register's, extended on the request page
                # the console has always left undecided matches out (its review page
                # decides them one by one); the export log counts them
                allow_undecided=True,
                exported_by=session.user,  # the export log names who exported, as the CLI's
                force=True,
            )
        )
    except DiscoverError as exc:
        return render(request, "error.html", {"message": str(exc)}, 400)
    await run_in_threadpool(
        lambda: console.desk.advance(
            record.request_id,
            "exported",
            actor=session.user,
            action="exported",
            detail={
                "kind": kind,
                "formats": formats,
                "language": language,
                "controller": controller,
                "complete": result.complete,
                "package": result.path.name,
            },
            links=[("package", result.path.resolve())],
        )
    )
    return _done(record.request_id, "exported" if result.complete else "incomplete")


def _zip(path: Path) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for file in sorted(p for p in path.rglob("*") if p.is_file()):
            archive.write(file, f"{path.name}/{file.relative_to(path).as_posix()}")
    return buffer.getvalue()


@guarded("officer")
async def download(request: Request) -> Response:
    console = _console(request)
    record = _record(console, _request_id(request))
    session: Session = request.state.session
    name = str(request.path_params["name"])
    package = next(
        (p for p in _packages(console, record.request_id) if p.name in (name, f"{name}.zip")),
        None,
    )
    if package is None:
        raise HTTPException(404)
    data = await run_in_threadpool(
        (lambda: package.read_bytes()) if package.is_file() else (lambda: _zip(package))
    )
    await run_in_threadpool(
        lambda: console.desk.audit(
            session.user, "downloaded", record.request_id, {"package": package.name}
        )
    )
    filename = package.name if package.name.endswith(".zip") else f"{package.name}.zip"
    return Response(
        data,
        media_type="application/zip",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@guarded("viewer")
async def audit_page(request: Request) -> Response:
    console = _console(request)
    entries = await run_in_threadpool(lambda: console.desk.audit_entries(limit=500))
    check = await run_in_threadpool(console.desk.verify_audit)
    return render(request, "audit.html", {"entries": entries, "check": check})


async def not_found(request: Request, exc: Exception) -> Response:
    status = exc.status_code if isinstance(exc, HTTPException) else 500
    message = {404: "Not found.", 405: "Not allowed."}.get(status, "Something went wrong.")
    if isinstance(exc, HTTPException) and exc.detail and status == 404:
        message = str(exc.detail) if exc.detail != "Not Found" else message
    return render(request, "error.html", {"message": message}, status)


#: every route with the role it needs (None: public); a test walks this table
ROUTES: list[tuple[str, str, Handler]] = [
    ("/login", "GET", login_page),
    ("/login", "POST", login),
    ("/logout", "POST", logout),
    ("/", "GET", home),
    ("/requests", "GET", requests_page),
    ("/requests/new", "GET", new_request_page),
    ("/requests", "POST", create_request),
    ("/requests/{request_id}", "GET", request_page),
    ("/requests/{request_id}/verify", "POST", verify_request),
    ("/requests/{request_id}/extend", "POST", extend_request),
    ("/requests/{request_id}/sent", "POST", _step("sent")),
    ("/requests/{request_id}/close", "POST", _step("closed")),
    ("/requests/{request_id}/search", "POST", start_search),
    ("/jobs/{job_id}", "GET", job_page),
    ("/jobs/{job_id}/status", "GET", job_status),
    ("/requests/{request_id}/case", "GET", case_page),
    ("/requests/{request_id}/review", "GET", review_page),
    ("/requests/{request_id}/review", "POST", review_decide),
    ("/requests/{request_id}/export", "GET", export_page),
    ("/requests/{request_id}/export", "POST", export_run),
    ("/requests/{request_id}/packages/{name}", "GET", download),
    ("/audit", "GET", audit_page),
]
PUBLIC = {login_page, login}


def create_app(desk: Desk, *, sources_file: Path | None = None) -> Any:
    """The console as an ASGI application over ``desk``."""
    console = Console(desk, sources_file)
    routes: list[Any] = [
        Route(path, handler, methods=[method], name=f"{method} {path}")
        for path, method, handler in ROUTES
    ]
    routes.append(Mount("/static", StaticFiles(directory=str(HERE / "static")), name="static"))

    @contextlib.asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        yield
        await run_in_threadpool(console.jobs.shutdown)  # a running search finishes its case

    app = Starlette(
        routes=routes,
        exception_handlers={HTTPException: not_found, 404: not_found, 405: not_found},
        lifespan=lifespan,
    )
    app.state.console = console
    return SecurityHeaders(app)
