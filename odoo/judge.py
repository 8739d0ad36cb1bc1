# odoo-migrate judge: run inside the target's Odoo 19 with
#   odoo-bin shell -c odoo.conf -d DATABASE --no-http --log-level=warn < odoo/judge.py
# It checks the migrated database with Odoo 19's own ORM and prints one line per result,
# `JUDGE<TAB>check<TAB>subject<TAB>status<TAB>json`, on stdout (the protocol is described
# in odoo/README.md). Everything it does happens in one transaction that is rolled back at
# the end; a commit attempted by any code it calls is refused.
#
# Environment variables (all optional):
#   JUDGE_CHECKS     comma list among registry,read,compute,analytic,trial_balance,actions
#                    (default: all of them)
#   JUDGE_MODELS     comma list of models to limit the read and compute checks to
#   JUDGE_CHUNK      records per chunk (default 1000)
#   JUDGE_FILESTORE  1 when the target's filestore is present: binary fields are then read
#                    and recomputed too (default: they are skipped)
#   JUDGE_EXAMPLES   differing ids listed per field, besides the first example (default 5)
#   JUDGE_EDITABLE_FACTS  comma list of model.field: computed fields that are editable
#                    (readonly=False) yet derived facts, recomputed like the read-only ones
#                    (default: account.payment.state)

import contextlib
import datetime
import json
import os
import re
import sys
import time
import traceback

from markupsafe import Markup
from odoo.exceptions import UserError

PREFIX = "JUDGE"
PROTOCOL = 1
ALL_CHECKS = ("registry", "read", "compute", "constraints", "analytic", "trial_balance", "actions")
# the registry's reflection, rewritten by Odoo 19 itself at each module update: their
# computed fields and constraints are Odoo's own business (a fresh 19 database already
# breaks ir.model's fold_name constraint and has a stale ir.module.module.reports_by_module)
REFLECTION = ("ir.model", "ir.model.fields", "ir.model.fields.selection", "ir.model.constraint",
              "ir.model.relation", "ir.model.inherit", "ir.module.module", "ir.module.module.dependency",
              "ir.module.module.exclusion", "ir.module.category")
# constraints that guard a change rather than a state: they fail on any record once the
# company has data, whatever the migration wrote
WRITE_GUARDS = {
    "res.company._check_set_account_price_include":
        "refuses any write of account_price_include once the company has accounting entries",
    "account.journal._check_type":
        "refuses any change of the type of a journal used by a payment method",
    "hr.leave._check_date_state":
        "refuses any change of the dates of a time off that is no longer to be approved",
    "hr.leave.type._check_overlapping_public_holidays":
        "refuses any change of 'Public Holiday Included' once time off of the type overlaps public holidays",
    "hr.leave.type.check_allocation_requirement_edit_validity":
        "refuses any change of the allocation requirement once time off of the type was taken",
}
# log-access columns: `product.product.write_date` is computed, but it is no business fact
LOG_ACCESS = ("create_uid", "create_date", "write_uid", "write_date")
SKIPPED_TYPES = ("properties", "properties_definition")
BINARY_TYPES = ("binary", "image")

judge_env = env(su=True)  # noqa: F821 (`env` is given by `odoo-bin shell`)
cr = judge_env.cr
STARTED = time.monotonic()
TALLY = {"ok": 0, "fail": 0, "skip": 0}


def setting(name, default):
    value = os.environ.get(name, "").strip()
    return value if value else default


CHECKS = [c.strip() for c in setting("JUDGE_CHECKS", ",".join(ALL_CHECKS)).split(",") if c.strip()]
MODELS = [m.strip() for m in setting("JUDGE_MODELS", "").split(",") if m.strip()]
CHUNK = max(1, int(setting("JUDGE_CHUNK", "1000")))
FILESTORE = setting("JUDGE_FILESTORE", "0").lower() in ("1", "true", "yes")
EXAMPLES = max(0, int(setting("JUDGE_EXAMPLES", "5")))
# records of a chunk checked one by one when a constraint fails on the chunk
RECHECK = 200
EDITABLE_FACTS = {f.strip() for f in setting("JUDGE_EDITABLE_FACTS", "account.payment.state").split(",") if f.strip()}


# ---------------------------------------------------------------- output


def jsonable(value):
    """A value of Odoo's cache or read format as plain JSON data (short)."""
    if value is None or isinstance(value, (bool, int)):
        return value
    if isinstance(value, float):
        return round(value, 10)
    if isinstance(value, (datetime.date, datetime.datetime)):
        return value.isoformat()
    if isinstance(value, Markup):
        value = str(value)
    if isinstance(value, str):
        return value if len(value) <= 300 else value[:300] + "…"
    if isinstance(value, bytes):
        return "<%d bytes>" % len(value)
    if isinstance(value, (list, tuple, set, frozenset)):
        items = list(value)
        out = [jsonable(v) for v in items[:50]]
        return out + ["… %d more" % (len(items) - 50)] if len(items) > 50 else out
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in list(value.items())[:50]}
    if hasattr(value, "_name") and hasattr(value, "ids"):
        return {"model": value._name, "ids": value.ids[:50]}
    return str(value)[:300]


def clean(text):
    return re.sub(r"[\t\r\n]+", " ", str(text))


def emit(check, subject, status, **details):
    TALLY[status] = TALLY.get(status, 0) + 1
    payload = json.dumps(jsonable(details), sort_keys=True, ensure_ascii=True)
    sys.stdout.write("\t".join((PREFIX, check, clean(subject), status, payload)) + "\n")
    sys.stdout.flush()


def error_text(exc):
    text = "%s: %s" % (type(exc).__name__, exc)
    return text if len(text) <= 1000 else text[:1000] + "…"


# ---------------------------------------------------------------- transaction safety


class CommitRefused(Exception):
    pass


def refuse_commit(*_args, **_kwargs):
    raise CommitRefused("the judge never commits; its transaction is rolled back")


@contextlib.contextmanager
def isolated():
    """Run a block in a savepoint that is always rolled back, with the ORM's caches and
    pending computations cleared before and after (nothing leaks into the next block)."""
    cr.flush()
    sp = cr.savepoint(flush=False)
    try:
        yield sp
    finally:
        cr.clear()
        sp.close(rollback=True)
        judge_env.invalidate_all(flush=False)


def reset_to(sp):
    cr.clear()
    sp.rollback()
    judge_env.invalidate_all(flush=False)


# ---------------------------------------------------------------- catalog helpers


def relation_kind(table):
    cr.execute("SELECT c.relkind FROM pg_class c WHERE c.oid = to_regclass(%s)", [table])
    row = cr.fetchone()
    return row[0] if row else None


def judged_models():
    """Models whose records can be read: not abstract, with a table, a view or a query."""
    names = MODELS or sorted(judge_env.registry.keys())
    for name in names:
        if name not in judge_env.registry:
            emit("model", name, "fail", error="model not in the registry")
            continue
        model = judge_env[name]
        if model._abstract:
            continue
        if model._table_query is None and relation_kind('"%s"' % model._table) is None:
            if model._auto:
                emit("read", name, "fail", error="table %s does not exist" % model._table)
            continue
        yield model


def stored_fields(model):
    """Stored fields the judge reads (binary only with the filestore)."""
    out = []
    for field in model._fields.values():
        if not field.store or field.type in SKIPPED_TYPES:
            continue
        if field.type in BINARY_TYPES and not FILESTORE:
            continue
        out.append(field)
    return out


def all_ids(model):
    return model.with_context(active_test=False).search([], order="id").ids


def chunks(ids):
    for start in range(0, len(ids), CHUNK):
        yield ids[start:start + CHUNK]


def migrated_ids_loader():
    """Return a function model -> sorted target ids of the migrated records of that model:
    those in odoo_migrate.id_map when the target has it, else every record."""
    if relation_kind("odoo_migrate.id_map") is None:
        return None, all_ids
    cr.execute("SELECT model, array_agg(DISTINCT target_id ORDER BY target_id) FROM odoo_migrate.id_map GROUP BY model")
    mapped = {model: ids for model, ids in cr.fetchall()}

    def loader(model):
        wanted = mapped.get(model._name, [])
        if not wanted:
            return []
        existing = set(model.with_context(active_test=False).browse(wanted).exists().ids)
        return [i for i in wanted if i in existing]

    return mapped, loader


# ---------------------------------------------------------------- check 1: registry


def check_registry():
    registry = judge_env.registry
    cr.execute("SELECT count(*) FROM ir_module_module WHERE state = 'installed'")
    modules = cr.fetchone()[0]
    cr.execute("SELECT name, state FROM ir_module_module WHERE state NOT IN ('installed', 'uninstalled', 'uninstallable') ORDER BY name")
    pending = ["%s:%s" % row for row in cr.fetchall()]
    status = "fail" if pending else "ok"
    emit("registry", cr.dbname, status, models=len(registry), installed_modules=modules,
         modules_in_transition=pending, odoo=odoo.release.version)  # noqa: F821


# ---------------------------------------------------------------- check 2: read


def failing_fields(model, ids, fields):
    """The fields whose reading fails on these records, each with its error (up to 20)."""
    bad = {}
    for field in fields:
        with isolated():
            try:
                model.browse(ids).read([field.name], load=None)
            except Exception as exc:  # noqa: BLE001 (any failure is a finding)
                bad[field.name] = error_text(exc)
        if len(bad) >= 20:
            break
    return bad


def view_columns(model):
    """The columns of the SQL view behind a model that Odoo does not make a table for
    (`_auto = False`, the view made by its `init`); None for other models."""
    if model._auto or model._table_query is not None:
        return None
    cr.execute("SELECT a.attname FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) "
               "AND a.attnum > 0 AND NOT a.attisdropped", ['"%s"' % model._table])
    return {row[0] for row in cr.fetchall()}


def readable_fields(model):
    """The stored fields read on `model`: those of a view model that its view lacks are left
    out, each reported as skipped (Odoo declares some only for its aggregates, e.g.
    vendor.delay.report.on_time_rate, computed in _read_group_select: no read of any
    database can get it)."""
    fields = stored_fields(model)
    columns = view_columns(model)
    if columns is None:
        return fields
    kept = []
    for field in fields:
        if field.name in columns:
            kept.append(field)
        else:
            emit("read", "%s.%s" % (model._name, field.name), "skip", model=model._name, field=field.name,
                 reason="a field of a model backed by the SQL view %s, which has no column %s: Odoo 19 "
                        "computes it only in its aggregates (read_group), no read gets it on any "
                        "database" % (model._table, field.name))
    return kept


def read_model(model):
    fields = readable_fields(model)
    fnames = [f.name for f in fields]
    try:
        ids = all_ids(model)
    except UserError as exc:
        if model._auto:
            raise
        # a virtual model (e.g. account.root) that refuses to be searched on its own
        emit("read", model._name, "skip", reason=error_text(exc))
        return True
    started = time.monotonic()
    for chunk in chunks(ids):
        try:
            with isolated():
                model.browse(chunk).read(fnames, load=None)
        except Exception as exc:  # noqa: BLE001
            emit("read", model._name, "fail", records=len(ids), fields=len(fnames),
                 error=error_text(exc), first_id=chunk[0], last_id=chunk[-1],
                 failing_fields=failing_fields(model, chunk, fields))
            return False
    emit("read", model._name, "ok", records=len(ids), fields=len(fnames),
         seconds=round(time.monotonic() - started, 3))
    return True


def check_read(models):
    started = time.monotonic()
    failed = 0
    for model in models:
        try:
            failed += 0 if read_model(model) else 1
        except Exception as exc:  # noqa: BLE001 (e.g. the search itself fails)
            failed += 1
            emit("read", model._name, "fail", error=error_text(exc))
    emit("summary", "read", "fail" if failed else "ok", models=len(models), failed=failed,
         seconds=round(time.monotonic() - started, 1), binary_fields_read=FILESTORE)


# ---------------------------------------------------------------- check 3: compute


def is_compared(field):
    """A stored computed field whose value is a fact: read-only (or listed in
    JUDGE_EDITABLE_FACTS), no log-access column, no binary without the filestore."""
    if not (field.store and field.compute) or field.company_dependent:
        return False
    if not field.readonly and "%s.%s" % (field.model_name, field.name) not in EDITABLE_FACTS:
        return False
    if field.name in LOG_ACCESS or field.type in SKIPPED_TYPES:
        return False
    return FILESTORE or field.type not in BINARY_TYPES


def recomputable_groups(model):
    """Groups of stored computed fields of `model` that one compute method fills
    together, each with the fields of it that are compared."""
    computed = judge_env.registry.field_computed
    groups, seen = [], set()
    for field in model._fields.values():
        if field in seen or not is_compared(field):
            continue
        group = [f for f in computed.get(field, [field]) if f.store]
        seen.update(group)
        groups.append((group, [f for f in group if is_compared(f)]))
    return groups


def normal(field, value):
    if value is None or value is False:
        return None
    if field.type in ("one2many", "many2many"):
        return tuple(sorted(v for v in value if v)) or None
    if field.type in ("float", "monetary"):
        return float(value) or None
    if field.type in ("integer", "many2one_reference") and value == 0:
        return None
    # Odoo's own empty value of a string field ('' for char, text, html: `falsy_value`), which
    # its domains take for NULL: 19 itself leaves NULL where its compute gives '' (website_sale's
    # variants_default_code of the templates that existed when it was installed).
    if value == "" and getattr(field, "falsy_value", None) == "":
        return None
    if isinstance(value, Markup):
        return str(value)
    if field.type == "json":
        return json.dumps(value, sort_keys=True, default=str)
    return value


def same(field, stored, computed):
    a, b = normal(field, stored), normal(field, computed)
    if field.type in ("float", "monetary") and a is not None and b is not None:
        digits = field.get_digits(judge_env) if field.type == "float" else None
        tolerance = 0.5 * 10 ** -digits[1] if digits else 1e-6 * max(1.0, abs(a), abs(b))
        return abs(a - b) <= tolerance
    if field.type in ("float", "monetary"):
        return abs((a or 0.0) - (b or 0.0)) <= 1e-9
    return a == b


MISSING = object()


def snapshot(fields, ids):
    out = {}
    for field in fields:
        cache = field._get_cache(judge_env)
        out[field] = {i: cache.get(i, MISSING) for i in ids}
    return out


def restore(group, stored, ids):
    """Put the stored values back in the cache after a computation that had no other
    effect, and drop the dirty marks it left (cheaper than a full reset)."""
    dirty = judge_env.transaction.field_dirty
    for field in group:
        cache = field._get_cache(judge_env)
        for i in ids:
            value = stored.get(field, {}).get(i, MISSING)
            if value is MISSING:
                cache.pop(i, None)
            else:
                cache[i] = value
        if field in dirty:
            dirty[field].difference_update(ids)
            if not dirty[field]:
                del dirty[field]


def side_effects(group):
    transaction = judge_env.transaction
    others_dirty = any(ids for f, ids in transaction.field_dirty.items() if f not in group)
    others_pending = any(ids for f, ids in transaction.tocompute.items() if f not in group)
    return others_dirty or others_pending or len(cr.precommit) > 0


@contextlib.contextmanager
def write_guards_off(model):
    """Leave the model's WRITE_GUARDS out of the constraints Odoo runs after a recompute
    of stored fields (`_compute_field_value` validates the fields computed, changed or
    not): a guard refuses any change of a record in its state, whatever the values, so it
    would turn every recompute of a validated time off's dates into an error. The
    constraints check judges the others, and tells which guards it skips."""
    guards = {s.rsplit(".", 1)[1] for s in WRITE_GUARDS if s.rsplit(".", 1)[0] == model._name}
    cls = type(model)
    if not guards or "_validate_fields" in cls.__dict__:
        yield
        return

    def validate(self, field_names, excluded_names=()):
        field_names, excluded_names = set(field_names), set(excluded_names)
        records = self.sudo()
        for check in self._constraint_methods:
            if check.__name__ in guards:
                continue
            if not field_names.isdisjoint(check._constrains) and excluded_names.isdisjoint(check._constrains):
                check(records)

    cls._validate_fields = validate
    try:
        yield
    finally:
        del cls._validate_fields


def compute_group(model, group, ids):
    """Recompute one group on `ids`; return {field: {id: computed cache value}}."""
    records = model.browse(ids)
    for field in group:
        judge_env.add_to_compute(field, records)
    with write_guards_off(model):
        group[0].recompute(records)
    out = {}
    for field in group:
        cache = field._get_cache(judge_env)
        out[field] = {i: cache.get(i, MISSING) for i in ids}
    return out


class InstallationError(Exception):
    """A compute that needs a file the Odoo installation lacks: not the database's fault."""


class FieldTally:
    def __init__(self):
        self.total = 0
        self.differing = 0
        self.example = None
        self.more_ids = []
        self.error = None
        self.error_ids = []
        self.clock_made = 0


def differing_ids(compared, stored, computed, ids):
    """The ids whose stored value of a compared field differs from Odoo 19's."""
    out = set()
    for field in compared:
        for i in ids:
            before, after = stored[field].get(i, MISSING), computed[field].get(i, MISSING)
            if before is not MISSING and after is not MISSING and not same(field, before, after):
                out.add(i)
    return sorted(out)


@contextlib.contextmanager
def clock_moved(days):
    """Run a block with the clock `days` ahead (and a few hours, so a day boundary in any
    time zone moves too): freezegun, which Odoo's own tests use, when it is installed, else
    the ORM's clock helpers (fields.Date.today, context_today, Datetime.now)."""
    moved = datetime.datetime.now() + datetime.timedelta(days=days, hours=7)
    try:
        from freezegun import freeze_time
    except ImportError:
        freeze_time = None
    if freeze_time is not None:
        with freeze_time(moved, tick=False):
            yield
        return
    from odoo import fields
    context_today = fields.Date.context_today
    patches = {
        (fields.Date, "today"): staticmethod(lambda *_a: moved.date()),
        (fields.Date, "context_today"): staticmethod(
            lambda record, timestamp=None: context_today(record, timestamp or moved)),
        (fields.Datetime, "now"): staticmethod(lambda *_a: moved.replace(microsecond=0)),
    }
    saved = {key: key[0].__dict__[key[1]] for key in patches}
    try:
        for (cls, name), value in patches.items():
            setattr(cls, name, value)
        yield
    finally:
        for (cls, name), value in saved.items():
            setattr(cls, name, value)


def clock_made(model, group, compared, computed, ids):
    """{field: ids} whose value Odoo 19 computes from the clock: recomputed with the clock
    moved, the value moves with it. Such a value is the day the judge runs, not a fact of
    the source (project.milestone.reached_date is `is_reached and today`); what stays
    comparable is whether there is one. A compute that raises with the clock moved is
    taken as not clock-made."""
    try:
        with cr.savepoint(flush=False), clock_moved(1000):
            moved = compute_group(model, group, ids)
    except Exception:  # noqa: BLE001 (the plain compute's result is judged instead)
        return {}
    out = {}
    for field in compared:
        made = {i for i in ids
                if not same(field, computed[field].get(i, MISSING), moved[field].get(i, MISSING))}
        if made:
            out[field] = made
    return out


def compare_into(tallies, compared, stored, computed, ids, from_clock=None):
    """Tally the differences; for a value Odoo computes from the clock (`from_clock`), only
    whether one is there (stored and computed both set or both empty)."""
    from_clock = from_clock or {}
    for field in compared:
        tally = tallies[field]
        tally.total += len(ids)
        clocked = from_clock.get(field, ())
        tally.clock_made += len(clocked)
        for i in ids:
            before, after = stored[field].get(i, MISSING), computed[field].get(i, MISSING)
            if before is MISSING or after is MISSING or same(field, before, after):
                continue
            if i in clocked and (normal(field, before) is None) == (normal(field, after) is None):
                continue
            tally.differing += 1
            if tally.example is None:
                tally.example = {"id": i, "stored": before, "computed": after}
            elif len(tally.more_ids) < EXAMPLES:
                tally.more_ids.append(i)


def compute_chunk(model, groups, ids, tallies):
    snapshot_fields = {f for group, _compared in groups for f in group}
    fnames = sorted({f.name for f in stored_fields(model) if f.column_type} | {f.name for f in snapshot_fields})
    with isolated() as sp:
        model.browse(ids).fetch(fnames)
        stored = snapshot(snapshot_fields, ids)
        for group, compared in groups:
            try:
                computed = compute_group(model, group, ids)
            except Exception as exc:  # noqa: BLE001 (a compute that raises is a finding)
                if isinstance(exc, OSError):
                    exc = InstallationError(exc)
                for field in compared:
                    tallies[field].error = tallies[field].error or error_text(exc)
                    tallies[field].error_ids.append(ids[0])
                    tallies[field].total += len(ids)
                reset_to(sp)
                model.browse(ids).fetch(fnames)
                stored = snapshot(snapshot_fields, ids)
                continue
            differing = differing_ids(compared, stored, computed, ids)
            from_clock = clock_made(model, group, compared, computed, differing) if differing else {}
            compare_into(tallies, compared, stored, computed, ids, from_clock)
            if side_effects(group):
                reset_to(sp)
                model.browse(ids).fetch(fnames)
                stored = snapshot(snapshot_fields, ids)
            else:
                restore(group, stored, ids)


def emit_tallies(model, groups, tallies, seconds):
    differing_fields = 0
    for _group, compared in groups:
        for field in compared:
            tally = tallies[field]
            subject = "%s.%s" % (model._name, field.name)
            if tally.error and tally.error.startswith("InstallationError"):
                emit("compute", subject, "skip", model=model._name, field=field.name,
                     total=tally.total, reason=tally.error)
            elif tally.error:
                differing_fields += 1
                emit("compute", subject, "fail", model=model._name, field=field.name,
                     total=tally.total, error=tally.error, chunks_failing_from_ids=tally.error_ids[:EXAMPLES])
            elif tally.differing:
                differing_fields += 1
                example = tally.example
                emit("compute", subject, "fail", model=model._name, field=field.name,
                     type=field.type, differing=tally.differing, total=tally.total,
                     example_id=example["id"], stored=example["stored"], computed=example["computed"],
                     more_ids=tally.more_ids)
            else:
                clock = {"clock_made": tally.clock_made} if tally.clock_made else {}
                emit("compute", subject, "ok", model=model._name, field=field.name, total=tally.total, **clock)
    return differing_fields


def compute_model(model, ids):
    groups = recomputable_groups(model)
    if not groups or not ids:
        return 0, 0
    started = time.monotonic()
    tallies = {f: FieldTally() for _g, compared in groups for f in compared}
    for chunk in chunks(ids):
        compute_chunk(model, groups, chunk, tallies)
    differing = emit_tallies(model, groups, tallies, time.monotonic() - started)
    return len(tallies), differing


def business_models(models):
    """The models whose computed fields and constraints are judged: real tables, no
    wizard, no reflection of the registry."""
    for model in models:
        if model._transient or model._table_query is not None or not model._auto:
            continue
        if model._name in REFLECTION:
            continue
        yield model


def check_compute(models, migrated):
    started = time.monotonic()
    fields = differing = failed_models = 0
    for model in business_models(models):
        try:
            n, d = compute_model(model, migrated(model))
        except Exception as exc:  # noqa: BLE001 (e.g. the stored values cannot be read)
            failed_models += 1
            emit("compute", model._name, "fail", model=model._name, error=error_text(exc))
            continue
        fields += n
        differing += d
    emit("summary", "compute", "fail" if differing or failed_models else "ok", fields=fields,
         differing_fields=differing, failed_models=failed_models,
         seconds=round(time.monotonic() - started, 1))


# ---------------------------------------------------------------- check: constraints


def failing_records(check, records):
    """Run a constraint method record by record (the first RECHECK records); return
    (failing ids, first error). A savepoint per record, the caches kept unless it fails."""
    bad, first = [], None
    for record in records[:RECHECK]:
        sp = cr.savepoint(flush=False)
        try:
            check(record)
            sp.close(rollback=False)
        except Exception as exc:  # noqa: BLE001
            cr.clear()
            sp.close(rollback=True)
            judge_env.invalidate_all(flush=False)
            bad.append(record.id)
            first = first or error_text(exc)
    return bad, first


def constraints_model(model, ids):
    methods = []
    for check in model._constraint_methods:
        subject = "%s.%s" % (model._name, check.__name__)
        if subject in WRITE_GUARDS:
            emit("constraint", subject, "skip", model=model._name, method=check.__name__,
                 reason=WRITE_GUARDS[subject])
        else:
            methods.append(check)
    if not methods or not ids:
        return 0
    failures = {}
    started = time.monotonic()
    for chunk in chunks(ids):
        records = model.browse(chunk)
        for check in methods:
            with isolated():
                try:
                    check(records)
                    continue
                except Exception as exc:  # noqa: BLE001 (a constraint that fails is the finding)
                    error = error_text(exc)
            bad, first = failing_records(check, records)
            if not bad:
                # the method fails on several records at once only (e.g. "Expected
                # singleton"): a bug of the method, not a record that breaks it
                continue
            entry = failures.setdefault(check.__name__, {"failing": 0, "ids": [], "error": first})
            entry["failing"] += len(bad)
            entry["ids"].extend(bad[: EXAMPLES + 1 - len(entry["ids"])])
    for name, entry in sorted(failures.items()):
        emit("constraint", "%s.%s" % (model._name, name), "fail", model=model._name, method=name,
             failing=entry["failing"], total=len(ids), example_id=entry["ids"][0],
             more_ids=entry["ids"][1:], error=entry["error"], seconds=round(time.monotonic() - started, 2))
    if not failures:
        emit("constraint", model._name, "ok", model=model._name, methods=len(methods), total=len(ids),
             seconds=round(time.monotonic() - started, 2))
    return len(failures)


def check_constraints(models, migrated):
    """Odoo 19's Python constraints (@api.constrains) hold on the migrated records."""
    started = time.monotonic()
    failed = 0
    for model in business_models(models):
        try:
            failed += constraints_model(model, migrated(model))
        except Exception as exc:  # noqa: BLE001
            failed += 1
            emit("constraint", model._name, "fail", model=model._name, error=error_text(exc))
    emit("summary", "constraints", "fail" if failed else "ok", failed=failed,
         seconds=round(time.monotonic() - started, 1))


# ---------------------------------------------------------------- check: analytic plans


def plan_models():
    registry = judge_env.registry
    if "analytic.plan.fields.mixin" not in registry:
        return []
    names = registry.descendants(["analytic.plan.fields.mixin"], "_inherit") - {"analytic.plan.fields.mixin"}
    return sorted(n for n in names if not judge_env[n]._abstract and judge_env[n]._auto)


def column_exists(table, column):
    cr.execute("SELECT 1 FROM information_schema.columns WHERE table_schema = current_schema() "
               "AND table_name = %s AND column_name = %s", [table, column])
    return bool(cr.fetchone())


def check_analytic():
    if "account.analytic.plan" not in judge_env.registry:
        return
    Plan = judge_env["account.analytic.plan"]
    try:
        project, others = Plan._get_all_plans()
    except Exception as exc:  # noqa: BLE001
        emit("analytic", "project_plan", "fail", error=error_text(exc))
        return
    for plan in project + others:
        column = plan._strict_column_name()
        for name in plan_models():
            model = judge_env[name]
            has_field = column in model._fields
            has_column = column_exists(model._table, column)
            status = "ok" if has_field and has_column else "fail"
            emit("analytic", "%s.%s" % (name, column), status, plan_id=plan.id, plan=plan.name,
                 field=has_field, column=has_column)
    check_analytic_lines(project + others)


def check_analytic_lines(plans):
    """Every analytic line's accounts must sit in their plan's column."""
    Line = judge_env["account.analytic.line"]
    columns = [p._strict_column_name() for p in plans]
    present = [c for c in columns if column_exists(Line._table, c)]
    for plan, column in zip(plans, columns):
        cr.execute(
            "SELECT count(*), min(l.id) FROM account_analytic_line l "
            "JOIN account_analytic_account a ON a.id = l.account_id "
            "JOIN account_analytic_plan p ON p.id = a.root_plan_id WHERE p.id = %s", [plan.id])
        in_account_id, example = cr.fetchone()
        if column == "account_id" or not in_account_id:
            continue
        emit("analytic", "account.analytic.line.%s" % column, "fail", plan_id=plan.id, plan=plan.name,
             lines_in_project_column=in_account_id, example_id=example,
             error="lines of this plan's accounts are in account_id instead of %s" % column)
    if present:
        cr.execute("SELECT count(*), min(id) FROM account_analytic_line WHERE %s"
                   % " AND ".join('"%s" IS NULL' % c for c in present))
        empty, example = cr.fetchone()
        total = Line.with_context(active_test=False).search_count([])
        emit("analytic", "account.analytic.line", "fail" if empty else "ok",
             lines_without_account=empty, example_id=example, total=total, columns=present)


# ---------------------------------------------------------------- trial balance


def source_ids_by_target(mapped, model):
    """target id -> source ids of `model` in the id map (empty without one)."""
    if mapped is None:
        return {}
    cr.execute("SELECT target_id, array_agg(source_id ORDER BY source_id) FROM odoo_migrate.id_map "
               "WHERE model = %s GROUP BY target_id", [model])
    return dict(cr.fetchall())


def check_trial_balance(mapped):
    reverse = {model: source_ids_by_target(mapped, model) for model in ("res.company", "account.account")}
    Line = judge_env["account.move.line"].with_context(active_test=False)
    groups = Line._read_group([("parent_state", "=", "posted")], ["company_id", "account_id"],
                              ["debit:sum", "credit:sum", "balance:sum", "__count"],
                              order="company_id, account_id")
    for company, account, debit, credit, balance, count in groups:
        code = account.with_company(company).code if account else None
        emit("trial_balance", "%s/%s" % (company.id, account.id), "ok",
             company_id=company.id, account_id=account.id, code=code, name=account.name,
             source_company_ids=reverse["res.company"].get(company.id, []),
             source_account_ids=reverse["account.account"].get(account.id, []),
             debit=round(debit, 6), credit=round(credit, 6), balance=round(balance, 6), lines=count)


# ---------------------------------------------------------------- business actions


def first_migrated(model_name, domain, migrated, order="id"):
    if model_name not in judge_env.registry:
        return None
    model = judge_env[model_name]
    ids = migrated(model)
    if not ids:
        return None
    return model.search([("id", "in", ids)] + domain, order=order, limit=1) or None


def run_action(name, action, migrated):
    started = time.monotonic()
    try:
        with isolated():
            result = action(migrated)
            cr.flush()
    except Exception as exc:  # noqa: BLE001 (a failing action is the finding)
        emit("action", name, "fail", error=error_text(exc), traceback=traceback.format_exc()[-1500:],
             seconds=round(time.monotonic() - started, 2))
        return
    status, details = result
    emit("action", name, status, seconds=round(time.monotonic() - started, 2), **details)


def number_tail(name):
    match = re.match(r"^(.*?)(\d+)$", name or "")
    return (match.group(1), int(match.group(2))) if match else (name, None)


def post_invoice(migrated):
    last = first_migrated("account.move", [("move_type", "=", "out_invoice"), ("state", "=", "posted")],
                          migrated, order="id desc")
    if not last:
        return "skip", {"reason": "no migrated posted customer invoice"}
    company = last.company_id
    Product = judge_env["product.product"].with_company(company)
    product = Product.search([("id", "in", migrated(Product)), ("sale_ok", "=", True),
                              ("company_id", "in", [False, company.id])], limit=1)
    line = {"name": "odoo-migrate judge", "quantity": 1, "price_unit": 100.0}
    if product:
        line["product_id"] = product.id
    move = judge_env["account.move"].with_company(company).create({
        "move_type": "out_invoice", "partner_id": last.partner_id.id, "journal_id": last.journal_id.id,
        "invoice_line_ids": [(0, 0, line)],
    })
    move.action_post()
    Move = judge_env["account.move"]
    cr.execute("SELECT max(sequence_number), max(name) FROM account_move WHERE journal_id = %s "
               "AND sequence_prefix = %s AND state = 'posted' AND id = ANY(%s)",
               [move.journal_id.id, move.sequence_prefix, migrated(Move)])
    migrated_max, migrated_max_name = cr.fetchone()
    expected = (migrated_max or 0) + 1
    status = "ok" if move.sequence_number == expected else "fail"
    return status, {"name": move.name, "journal": move.journal_id.code, "company_id": company.id,
                    "prefix": move.sequence_prefix, "number": move.sequence_number,
                    "migrated_max_in_prefix": migrated_max, "migrated_max_name": migrated_max_name,
                    "last_migrated_name": last.name, "follows_migrated_sequence": status == "ok"}


def register_payment(migrated):
    invoice = first_migrated("account.move", [("move_type", "=", "out_invoice"), ("state", "=", "posted"),
                                              ("payment_state", "in", ("not_paid", "partial"))], migrated)
    if not invoice:
        return "skip", {"reason": "no migrated open customer invoice"}
    before = invoice.payment_state
    wizard = judge_env["account.payment.register"].with_context(
        active_model="account.move", active_ids=invoice.ids).create({})
    payments = wizard._create_payments()
    judge_env.invalidate_all()
    status = "ok" if invoice.payment_state in ("paid", "in_payment") else "fail"
    return status, {"invoice_id": invoice.id, "invoice": invoice.name, "payment_state_before": before,
                    "payment_state": invoice.payment_state, "residual": invoice.amount_residual,
                    "payments": payments.mapped("name"), "payment_states": payments.mapped("state")}


def confirm_quotation(migrated):
    order = first_migrated("sale.order", [("state", "in", ("draft", "sent")),
                                          ("order_line.product_id.type", "=", "consu")], migrated) \
        or first_migrated("sale.order", [("state", "in", ("draft", "sent"))], migrated)
    if not order:
        return "skip", {"reason": "no migrated quotation"}
    order.action_confirm()
    if "picking_ids" not in order._fields:
        return ("ok" if order.state == "sale" else "fail"), {"order": order.name, "state": order.state}
    follows = True
    deliveries = []
    Picking = judge_env["stock.picking"]
    for picking in order.picking_ids:
        prefix, number = number_tail(picking.name)
        cr.execute("SELECT name FROM stock_picking WHERE picking_type_id = %s AND id = ANY(%s) AND id <> %s",
                   [picking.picking_type_id.id, migrated(Picking), picking.id])
        same_prefix = [n for p, n in (number_tail(r[0]) for r in cr.fetchall()) if p == prefix and n is not None]
        migrated_max = max(same_prefix) if same_prefix else None
        ok = number is not None and (migrated_max is None or number > migrated_max)
        follows = follows and ok
        deliveries.append({"name": picking.name, "picking_type": picking.picking_type_id.display_name,
                           "migrated_max_number": migrated_max, "after_migrated": ok})
    status = "ok" if order.state == "sale" and follows else "fail"
    return status, {"order_id": order.id, "order": order.name, "state": order.state, "deliveries": deliveries}


def validate_transfer(migrated):
    picking = first_migrated("stock.picking", [("state", "=", "assigned"),
                                               ("move_ids.product_id.tracking", "=", "none")], migrated) \
        or first_migrated("stock.picking", [("state", "=", "assigned")], migrated)
    if not picking:
        return "skip", {"reason": "no migrated ready transfer"}
    result = picking.with_context(skip_backorder=True, skip_sms=True, skip_immediate=True).button_validate()
    judge_env.invalidate_all()
    status = "ok" if picking.state == "done" else "fail"
    wizard = result.get("res_model") if isinstance(result, dict) else None
    return status, {"picking_id": picking.id, "picking": picking.name, "state": picking.state,
                    "wizard": wizard, "backorders": picking.backorder_ids.mapped("name")}


ACTIONS = (
    ("post_invoice", "account.move", post_invoice),
    ("register_payment", "account.payment.register", register_payment),
    ("confirm_quotation", "sale.order", confirm_quotation),
    ("validate_transfer", "stock.picking", validate_transfer),
)


def document_sequences():
    """Last values of the PostgreSQL sequences behind `ir.sequence` (document numbering):
    nextval() is not undone by a rollback, so the judge puts them back after its actions."""
    cr.execute("SELECT c.relname FROM pg_class c WHERE c.relkind = 'S' AND c.relname LIKE 'ir\\_sequence\\_%' "
               "AND c.relnamespace = to_regnamespace(current_schema())")
    values = {}
    for (name,) in cr.fetchall():
        cr.execute('SELECT last_value, is_called FROM "%s"' % name)
        values[name] = cr.fetchone()
    return values


def restore_sequences(before):
    """After the rollback: setval() the numbering sequences the actions moved."""
    after = document_sequences()
    moved = [name for name, value in before.items() if after.get(name) != value]
    for name in moved:
        last_value, is_called = before[name]
        cr.execute("SELECT setval(%s, %s, %s)", ['"%s"' % name, last_value, is_called])
    cr.rollback()
    return moved


def check_actions(migrated):
    for name, model, action in ACTIONS:
        if model not in judge_env.registry:
            emit("action", name, "skip", reason="model %s not installed" % model)
            continue
        run_action(name, action, migrated)


# ---------------------------------------------------------------- main


def phase(name, function, *args):
    if name not in CHECKS:
        return
    try:
        function(*args)
    except Exception as exc:  # noqa: BLE001 (a phase that breaks is reported, the others run)
        cr.rollback()
        judge_env.invalidate_all(flush=False)
        emit("phase", name, "fail", error=error_text(exc), traceback=traceback.format_exc()[-2000:])


def main():
    emit("start", cr.dbname, "ok", protocol=PROTOCOL, checks=CHECKS, chunk=CHUNK, filestore=FILESTORE,
         models=MODELS or "all", odoo=odoo.release.version)  # noqa: F821
    phase("registry", check_registry)
    mapped, migrated = migrated_ids_loader()
    emit("scope", "migrated_records", "ok", id_map=mapped is not None,
         models=len(mapped) if mapped is not None else None)
    models = list(judged_models()) if {"read", "compute", "constraints"} & set(CHECKS) else []
    phase("read", check_read, models)
    phase("compute", check_compute, models, migrated)
    phase("constraints", check_constraints, models, migrated)
    phase("analytic", check_analytic)
    if "account.move.line" in judge_env.registry:
        phase("trial_balance", check_trial_balance, mapped)
    phase("actions", check_actions, migrated)


original_commit = cr.commit
cr.commit = refuse_commit
sequences_before = document_sequences()
cr.rollback()
try:
    main()
finally:
    cr.rollback()
    emit("cleanup", "sequences", "ok", restored=restore_sequences(sequences_before))
    cr.commit = original_commit
    failed = TALLY.get("fail", 0)
    emit("done", cr.dbname, "fail" if failed else "ok", ok=TALLY.get("ok", 0), failed=failed,
         skipped=TALLY.get("skip", 0), seconds=round(time.monotonic() - STARTED, 1), rolled_back=True)
