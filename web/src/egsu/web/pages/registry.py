"""The registry: browse subjects, facilities, points and devices; edit them and decide proposals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from egsu.web.console import Ctx, PageNotFound, check_csrf, screen
from egsu.web.gateway import ApiError
from egsu.web.i18n import N_

router = APIRouter(include_in_schema=False)
R = "/api/v1/registry"
TABS = ("subjects", "facilities", "metering-points", "devices", "proposals")

# The fields the console edits, per entity: (name, kind) where kind is text | number | select:<vocab>
# | bool. The registry validates them; its field errors are shown beside the fields.
FIELDS: dict[str, list[tuple[str, str]]] = {
    "subjects": [
        ("name_ru", "text"),
        ("name_kk", "text"),
        ("name_en", "text"),
        ("legal_form", "select:legal_form"),
        ("kind", "select:subject_kind"),
        ("region_kato", "select:region"),
        ("address", "text"),
        ("status", "select:status"),
    ],
    "facilities": [
        ("name_ru", "text"),
        ("name_kk", "text"),
        ("type", "select:facility_type"),
        ("region_kato", "select:region"),
        ("installed_electric_mw", "number"),
        ("installed_heat_gcal_h", "number"),
        ("voltage_kv", "number"),
        ("criticality", "select:criticality"),
        ("latitude", "number"),
        ("longitude", "number"),
        ("status", "select:status"),
    ],
    "metering-points": [
        ("name", "text"),
        ("position", "select:position"),
        ("interval_min", "select:interval"),
        ("nominal_voltage", "number"),
        ("rated_current", "number"),
        ("max_power_kw", "number"),
        ("status", "select:status"),
    ],
}
CREATE_ONLY = {
    "subjects": [("bin", "text")],
    "facilities": [("subject_bin", "text")],
    "metering-points": [
        ("code", "text"),
        ("facility_id", "text"),
        ("commodity", "select:commodity"),
        ("quantities", "text"),
    ],
}
CHOICES = {
    "legal_form": ["jsc", "llp", "state_enterprise", "individual_entrepreneur", "branch", "other"],
    "subject_kind": [
        "generation",
        "transmission",
        "distribution",
        "heat_supply",
        "energy_supply",
        "large_consumer",
        "fuel",
    ],
    "status": ["active", "suspended", "liquidated"],
    "facility_type": [
        "tpp",
        "chp",
        "hpp",
        "wpp",
        "spp",
        "gas_turbine",
        "boiler_house",
        "substation",
        "power_line",
        "heat_network",
        "consumer_site",
        "other",
    ],
    "position": ["generation", "interchange", "consumption", "own_needs"],
    "commodity": ["electricity", "heat"],
    "interval": ["1", "3", "5", "10", "15", "30", "60", "1440"],
    "criticality": ["1", "2", "3"],
}
LABELS = {
    "name_ru": N_("Name in Russian"),
    "name_kk": N_("Name in Kazakh"),
    "name_en": N_("Name in English"),
    "name": N_("Name"),
    "legal_form": N_("Legal form"),
    "kind": N_("Activity"),
    "region_kato": N_("Region"),
    "address": N_("Address"),
    "status": N_("Status"),
    "type": N_("Type"),
    "installed_electric_mw": N_("Installed electric capacity, MW"),
    "installed_heat_gcal_h": N_("Installed heat capacity, Gcal/h"),
    "voltage_kv": N_("Voltage class, kV"),
    "criticality": N_("Criticality"),
    "latitude": N_("Latitude"),
    "longitude": N_("Longitude"),
    "position": N_("Position"),
    "interval_min": N_("Interval, minutes"),
    "nominal_voltage": N_("Nominal voltage, V"),
    "rated_current": N_("Rated current, A"),
    "max_power_kw": N_("Maximum power, kW"),
    "bin": N_("BIN"),
    "subject_bin": N_("Owner's BIN"),
    "code": N_("Code"),
    "facility_id": N_("Facility identifier"),
    "commodity": N_("Commodity"),
    "quantities": N_("Quantities (codes, comma-separated)"),
}


def _form_body(entity: str, form: dict[str, Any], *, create: bool) -> dict[str, Any]:
    body: dict[str, Any] = {}
    fields = FIELDS[entity] + (CREATE_ONLY[entity] if create else [])
    for name, kind in fields:
        raw = str(form.get(name, "")).strip()
        if raw == "":
            continue
        if kind == "number":
            try:
                body[name] = float(raw.replace(",", ".").replace("\u00a0", "").replace(" ", ""))
            except ValueError:
                body[name] = raw  # the registry names the field
        elif kind in ("select:interval", "select:criticality"):
            body[name] = int(raw) if raw.isdigit() else raw
        elif name == "quantities":
            body[name] = [q.strip() for q in raw.split(",") if q.strip()]
        else:
            body[name] = raw
    return body


@router.get("/registry")
async def browse(
    ctx: Annotated[Ctx, screen("registry")],
    tab: str = "subjects",
    q: str | None = None,
    region_kato: str | None = None,
    status: str | None = None,
    cursor: str | None = None,
) -> Response:
    if tab not in TABS:
        tab = "subjects"
    if tab == "proposals" and not ctx.may("registry.edit"):
        tab = "subjects"
    params: dict[str, Any] = {"limit": 50, "cursor": cursor, "q": q or None}
    if tab in ("subjects", "facilities", "metering-points"):
        params["region_kato"] = region_kato or None
    if tab == "proposals":
        params["status"] = status or "pending"
        params["sort"] = "-created_at"
    res = await ctx.api.many(
        items=ctx.api.get(f"{R}/{tab}", **params),
        pending=ctx.api.get(f"{R}/proposals", status="pending", limit=200)
        if ctx.may("registry.edit")
        else _nothing(),
    )
    return ctx.render(
        "registry.html",
        title=ctx._("Registry"),
        tab=tab,
        res=res,
        q=q or "",
        region_kato=region_kato or "",
        status=status or "pending",
        labels=LABELS,
    )


async def _nothing() -> dict[str, Any]:
    return {"items": []}


def _edit_page(
    ctx: Ctx,
    entity: str,
    obj: dict[str, Any] | None,
    values: dict[str, Any],
    errors: dict[str, str],
    status: int = 200,
    message: str | None = None,
) -> Response:
    create = obj is None
    fields = (CREATE_ONLY[entity] if create else []) + FIELDS[entity]
    return ctx.render(
        "registry_edit.html",
        status,
        title=ctx._("New record") if create else ctx._("Edit record"),
        entity=entity,
        obj=obj,
        fields=fields,
        values=values,
        errors=errors,
        choices=CHOICES,
        labels=LABELS,
        message=message,
        section="registry",
    )


async def _load(ctx: Ctx, entity: str, key: str) -> dict[str, Any]:
    if entity not in FIELDS:
        raise PageNotFound()
    try:
        return await ctx.api.get(f"{R}/{entity}/{key}")  # type: ignore[no-any-return]
    except ApiError as exc:
        if exc.state in ("not_found", "invalid"):
            raise PageNotFound() from None
        raise


@router.get("/registry/{entity}/new")
async def new_form(entity: str, ctx: Annotated[Ctx, screen("registry.edit")]) -> Response:
    if entity not in FIELDS:
        raise PageNotFound()
    return _edit_page(ctx, entity, None, {"status": "active"}, {})


@router.get("/registry/{entity}/{key}/edit")
async def edit_form(
    entity: str, key: str, ctx: Annotated[Ctx, screen("registry.edit")]
) -> Response:
    obj = await _load(ctx, entity, key)
    return _edit_page(ctx, entity, obj, obj, {})


async def _save(request: Request, ctx: Ctx, entity: str, key: str | None) -> Response:
    form = dict(await request.form())
    check_csrf(ctx, str(form.get("csrf", "")))
    obj = await _load(ctx, entity, key) if key else None
    body = _form_body(entity, form, create=obj is None)
    try:
        if obj is None:
            saved = await ctx.api.post(f"{R}/{entity}", body)
        else:
            saved = await ctx.api.patch(f"{R}/{entity}/{key}", body)
    except ApiError as exc:
        if exc.state != "invalid":
            raise
        errors = {
            k.split(".")[0]: v if ctx.lang.code == "en" else ctx._("This value is not accepted.")
            for k, v in exc.field_errors().items()
        }
        return _edit_page(
            ctx,
            entity,
            obj,
            {**(obj or {}), **form},
            errors,
            422,
            ctx._("The record was not saved: check the marked fields."),
        )
    target = {
        "subjects": f"/subjects/{saved.get('bin')}",
        "facilities": f"/facilities/{saved.get('id')}",
        "metering-points": f"/points/{saved.get('code')}",
    }[entity]
    return RedirectResponse(target + "?saved=1", status_code=303)


@router.post("/registry/{entity}/new")
async def create(
    entity: str, request: Request, ctx: Annotated[Ctx, screen("registry.edit")]
) -> Response:
    if entity not in FIELDS:
        raise PageNotFound()
    return await _save(request, ctx, entity, None)


@router.post("/registry/{entity}/{key}/edit")
async def update(
    entity: str, key: str, request: Request, ctx: Annotated[Ctx, screen("registry.edit")]
) -> Response:
    return await _save(request, ctx, entity, key)


@router.post("/registry/proposals/{pid}/{decision}")
async def decide(
    pid: str, decision: str, request: Request, ctx: Annotated[Ctx, screen("registry.edit")]
) -> Response:
    form = await request.form()
    check_csrf(ctx, str(form.get("csrf", "")))
    if decision not in ("approve", "reject"):
        raise PageNotFound()
    comment = str(form.get("comment", "")).strip() or None
    try:
        await ctx.api.post(f"{R}/proposals/{pid}/{decision}", {"comment": comment})
    except ApiError as exc:
        if exc.state == "not_found":
            raise PageNotFound() from None
        if exc.state != "invalid":
            raise
    return RedirectResponse("/registry?tab=proposals", status_code=303)
