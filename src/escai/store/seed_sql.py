"""SQL for the code generator's five views and two functions, per dialect (ARCHITECTURE section 3).

This is the only module besides :mod:`escai.store.dialect` that holds dialect-specific SQL. Migration ``0002``
executes :func:`create_statements` and :func:`drop_statements`; once released, a view or function defined here
changes only through a new migration that replaces it (keep the old text for the old revision).

Four views are the same portable SQL on both engines. ``event_processing_health`` needs percentiles:
PostgreSQL has ``percentile_cont``; SQLite has no percentile function, so its view ranks rows with window
functions (``ROW_NUMBER``/``COUNT`` per stage and hour) and interpolates between the two nearest ranks itself.

**Percentile definition** (both engines, identical to PostgreSQL's ``percentile_cont``): sort the ``n``
durations of a group ascending as ``x[0] .. x[n-1]``; for a fraction ``p`` let ``h = p * (n - 1)``,
``i = floor(h)``; the percentile is ``x[i] + (h - i) * (x[i+1] - x[i])`` (just ``x[i]`` when ``i = n - 1``).
This is the "linear" / "inclusive" method (numpy's default, Excel's ``PERCENTILE.INC``, Python's
``statistics.quantiles(method="inclusive")``). The SQLite expression performs the same floating-point operations
in the same order, so the two engines agree to the last bit on the same rows.

The two functions exist as PL/pgSQL on PostgreSQL only; :mod:`escai.store.seed_repository` runs the same
semantics in Python on SQLite. They report invalid input with ``RAISE EXCEPTION`` and an ESCAI-specific SQLSTATE
(:data:`UNKNOWN_FEEDBACK_TYPE_SQLSTATE`, :data:`INVALID_CODEGEN_RECORD_SQLSTATE`) that the repository maps
back to typed Python errors.
"""

from __future__ import annotations

from typing import Final

from escai.store.seed_tables import FEEDBACK_TYPES, NODE_KINDS

CONFIDENCE_PRIOR_WEIGHT: Final = 5
"""``k`` in a pair's confidence ``n / (n + k)``: 5 outcomes give confidence 0.5, 45 give 0.9."""

UNKNOWN_FEEDBACK_TYPE_SQLSTATE: Final = "ESC01"
"""SQLSTATE raised by ``record_pattern_feedback`` for a feedback type it does not know."""

INVALID_CODEGEN_RECORD_SQLSTATE: Final = "ESC02"
"""SQLSTATE raised by both functions for any other invalid argument (self-pair, unknown node kind, ...)."""

SEED_VIEW_NAMES: Final = (
    "mixin_compatibility_summary",
    "pattern_feedback_analysis",
    "performance_metrics_summary",
    "template_cache_efficiency",
    "event_processing_health",
)

PERCENTILES: Final = (("p50", 0.5), ("p95", 0.95), ("p99", 0.99))
"""The duration percentiles ``event_processing_health`` reports, as (column prefix, fraction)."""

_SUPPORTED_DIALECTS: Final = ("sqlite", "postgresql")


def _check_dialect(dialect_name: str) -> None:
    if dialect_name not in _SUPPORTED_DIALECTS:
        raise NotImplementedError(f"dialect {dialect_name!r} is not supported (use sqlite or postgresql)")


def _sql_list(values: tuple[str, ...]) -> str:
    return ", ".join(f"'{value}'" for value in values)


# --- Portable views ---------------------------------------------------------------------------------------
# CAST(... AS FLOAT) is double precision on PostgreSQL and REAL on SQLite; without it PostgreSQL would divide
# integers (or return numeric) and the engines would disagree. NULLIF(..., 0) makes a ratio NULL, not an error,
# when there is nothing to divide by.

_MIXIN_COMPATIBILITY_SUMMARY = """
CREATE VIEW mixin_compatibility_summary AS
SELECT
    node_kind,
    mixin_a,
    mixin_b,
    success_count,
    failure_count,
    success_count + failure_count AS observations,
    CAST(success_count AS FLOAT) / NULLIF(success_count + failure_count, 0) AS observed_success_rate,
    compatibility_score,
    confidence,
    last_outcome,
    last_error,
    updated_at
FROM mixin_compatibility_matrix
"""

# precision = tp / (tp + fp); false_positive_rate = fp / (tp + fp) as the seed defines it (strictly, the
# false discovery rate: true negatives are never observed); recall = tp / (tp + fn). user_override rows are
# counted but belong to none of the ratios.
_PATTERN_FEEDBACK_ANALYSIS = """
CREATE VIEW pattern_feedback_analysis AS
WITH counted AS (
    SELECT
        pattern_id,
        COUNT(*) AS feedback_count,
        SUM(CASE WHEN feedback_type = 'true_positive' THEN 1 ELSE 0 END) AS true_positives,
        SUM(CASE WHEN feedback_type = 'false_positive' THEN 1 ELSE 0 END) AS false_positives,
        SUM(CASE WHEN feedback_type = 'false_negative' THEN 1 ELSE 0 END) AS false_negatives,
        SUM(CASE WHEN feedback_type = 'user_override' THEN 1 ELSE 0 END) AS user_overrides,
        AVG(confidence_before) AS avg_confidence_before,
        MIN(recorded_at) AS first_recorded_at,
        MAX(recorded_at) AS last_recorded_at
    FROM pattern_feedback_log
    GROUP BY pattern_id
)
SELECT
    pattern_id,
    feedback_count,
    true_positives,
    false_positives,
    false_negatives,
    user_overrides,
    CAST(true_positives AS FLOAT) / NULLIF(true_positives + false_positives, 0) AS precision,
    CAST(false_positives AS FLOAT) / NULLIF(true_positives + false_positives, 0) AS false_positive_rate,
    CAST(true_positives AS FLOAT) / NULLIF(true_positives + false_negatives, 0) AS recall,
    avg_confidence_before,
    first_recorded_at,
    last_recorded_at
FROM counted
"""

_PERFORMANCE_METRICS_SUMMARY = """
CREATE VIEW performance_metrics_summary AS
SELECT
    node_kind,
    phase,
    COUNT(*) AS samples,
    SUM(CASE WHEN success THEN 1 ELSE 0 END) AS successes,
    SUM(CASE WHEN success THEN 0 ELSE 1 END) AS failures,
    CAST(SUM(CASE WHEN success THEN 1 ELSE 0 END) AS FLOAT) / COUNT(*) AS success_rate,
    AVG(duration_ms) AS avg_duration_ms,
    MIN(duration_ms) AS min_duration_ms,
    MAX(duration_ms) AS max_duration_ms,
    SUM(duration_ms) AS total_duration_ms,
    MAX(recorded_at) AS last_recorded_at
FROM generation_performance_metrics
GROUP BY node_kind, phase
"""

_TEMPLATE_CACHE_EFFICIENCY = """
CREATE VIEW template_cache_efficiency AS
SELECT
    template_name,
    content_sha256,
    size_bytes,
    hits,
    misses,
    hits + misses AS lookups,
    CAST(hits AS FLOAT) / NULLIF(hits + misses, 0) AS hit_rate,
    evictions,
    loads,
    total_load_ms / NULLIF(loads, 0) AS avg_load_ms,
    last_loaded_at,
    last_accessed_at,
    updated_at
FROM template_cache_metadata
"""

# --- event_processing_health, one per dialect --------------------------------------------------------------
# Both group by stage and by the UTC hour the batch was recorded in, and return the same columns.


def _event_processing_health_postgresql() -> str:
    # date_trunc on a timestamptz truncates in the session's time zone; going through UTC explicitly keeps
    # the buckets on UTC hours whatever the client's TimeZone setting.
    bucket = "date_trunc('hour', recorded_at AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
    percentiles = ",\n".join(
        f"    percentile_cont({fraction}) WITHIN GROUP (ORDER BY duration_ms) AS {prefix}_duration_ms"
        for prefix, fraction in PERCENTILES
    )
    return f"""
CREATE VIEW event_processing_health AS
SELECT
    stage,
    {bucket} AS hour_bucket,
    COUNT(*) AS batches,
    SUM(batch_size) AS events,
    SUM(CASE WHEN success THEN 0 ELSE 1 END) AS failures,
    CAST(SUM(CASE WHEN success THEN 0 ELSE 1 END) AS FLOAT) / COUNT(*) AS failure_rate,
    AVG(duration_ms) AS avg_duration_ms,
{percentiles},
    MAX(duration_ms) AS max_duration_ms,
    AVG(queue_wait_ms) AS avg_queue_wait_ms,
    SUM(retries) AS total_retries
FROM event_processing_metrics
GROUP BY stage, {bucket}
"""  # noqa: S608 (built from module constants only)


def _event_processing_health_sqlite() -> str:
    # UtcDateTime stores 'YYYY-MM-DD HH:MM:SS.ffffff' (UTC) on SQLite; the bucket keeps that exact format so
    # it reads back as a datetime and compares correctly with bound datetimes.
    #
    # Percentiles, step by step (h, i as in the module docstring): ``ranked`` numbers each group's rows by
    # duration and counts them; ``positioned`` computes, per percentile, the 1-based rank i + 1 of the lower
    # neighbour and the interpolation weight h - i (CAST to INTEGER truncates, which is floor for h >= 0);
    # ``grouped`` picks the lower and upper neighbours' durations; the final SELECT interpolates. The upper
    # neighbour is missing only when the lower one is the last row, and then the weight is 0.
    positions = ",\n".join(
        f"        CAST({fraction} * (batch_count - 1) AS INTEGER) + 1 AS {prefix}_rank,\n"
        f"        {fraction} * (batch_count - 1) - CAST({fraction} * (batch_count - 1) AS INTEGER)"
        f" AS {prefix}_weight"
        for prefix, fraction in PERCENTILES
    )
    neighbours = ",\n".join(
        f"        MAX(CASE WHEN duration_rank = {prefix}_rank THEN duration_ms END) AS {prefix}_lower,\n"
        f"        MAX(CASE WHEN duration_rank = {prefix}_rank + 1 THEN duration_ms END) AS {prefix}_upper,\n"
        f"        MAX({prefix}_weight) AS {prefix}_weight"
        for prefix, _ in PERCENTILES
    )
    interpolated = ",\n".join(
        f"    {prefix}_lower + (COALESCE({prefix}_upper, {prefix}_lower) - {prefix}_lower) * {prefix}_weight"
        f" AS {prefix}_duration_ms"
        for prefix, _ in PERCENTILES
    )
    return f"""
CREATE VIEW event_processing_health AS
WITH bucketed AS (
    SELECT
        stage,
        strftime('%Y-%m-%d %H:00:00.000000', recorded_at) AS hour_bucket,
        batch_size,
        duration_ms,
        queue_wait_ms,
        retries,
        success
    FROM event_processing_metrics
),
ranked AS (
    SELECT
        bucketed.*,
        ROW_NUMBER() OVER (PARTITION BY stage, hour_bucket ORDER BY duration_ms) AS duration_rank,
        COUNT(*) OVER (PARTITION BY stage, hour_bucket) AS batch_count
    FROM bucketed
),
positioned AS (
    SELECT
        ranked.*,
{positions}
    FROM ranked
),
grouped AS (
    SELECT
        stage,
        hour_bucket,
        COUNT(*) AS batches,
        SUM(batch_size) AS events,
        SUM(CASE WHEN success THEN 0 ELSE 1 END) AS failures,
        AVG(duration_ms) AS avg_duration_ms,
{neighbours},
        MAX(duration_ms) AS max_duration_ms,
        AVG(queue_wait_ms) AS avg_queue_wait_ms,
        SUM(retries) AS total_retries
    FROM positioned
    GROUP BY stage, hour_bucket
)
SELECT
    stage,
    hour_bucket,
    batches,
    events,
    failures,
    CAST(failures AS FLOAT) / batches AS failure_rate,
    avg_duration_ms,
{interpolated},
    max_duration_ms,
    avg_queue_wait_ms,
    total_retries
FROM grouped
"""  # noqa: S608 (built from module constants only)


# --- PL/pgSQL functions -------------------------------------------------------------------------------------

_NODE_KIND_LIST = ", ".join(NODE_KINDS)
_FEEDBACK_TYPE_LIST = ", ".join(FEEDBACK_TYPES)

_UPDATE_MIXIN_COMPATIBILITY = f"""
CREATE OR REPLACE FUNCTION update_mixin_compatibility(
    p_node_kind text,
    p_mixin_a text,
    p_mixin_b text,
    p_success boolean,
    p_error text DEFAULT NULL
) RETURNS double precision
LANGUAGE plpgsql
AS $$
DECLARE
    -- Canonical order by code point, the same order as the columns' "C" collation and Python's min/max.
    v_first text := LEAST(p_mixin_a COLLATE "C", p_mixin_b COLLATE "C");
    v_second text := GREATEST(p_mixin_a COLLATE "C", p_mixin_b COLLATE "C");
    v_successes integer := CASE WHEN p_success THEN 1 ELSE 0 END;
    v_failures integer := CASE WHEN p_success THEN 0 ELSE 1 END;
    v_score double precision;
BEGIN
    IF p_node_kind IS NULL OR p_node_kind NOT IN ({_sql_list(NODE_KINDS)}) THEN
        RAISE EXCEPTION USING ERRCODE = '{INVALID_CODEGEN_RECORD_SQLSTATE}', MESSAGE = format(
            'unknown node_kind "%s"; expected one of: {_NODE_KIND_LIST}', p_node_kind);
    END IF;
    IF coalesce(p_mixin_a, '') = '' OR coalesce(p_mixin_b, '') = '' THEN
        RAISE EXCEPTION USING ERRCODE = '{INVALID_CODEGEN_RECORD_SQLSTATE}',
            MESSAGE = 'mixin names must be non-empty';
    END IF;
    IF p_mixin_a = p_mixin_b THEN
        RAISE EXCEPTION USING ERRCODE = '{INVALID_CODEGEN_RECORD_SQLSTATE}', MESSAGE = format(
            'a mixin cannot be paired with itself: "%s"', p_mixin_a);
    END IF;
    IF p_success IS NULL THEN
        RAISE EXCEPTION USING ERRCODE = '{INVALID_CODEGEN_RECORD_SQLSTATE}',
            MESSAGE = 'success must be true or false';
    END IF;

    -- One atomic upsert: concurrent callers for the same pair serialise on the unique key. The SET list
    -- reads the existing row (m) before any update, so the new totals are old + this outcome.
    -- score = (successes + 1) / (n + 2)  (Laplace-smoothed success rate)
    -- confidence = n / (n + {CONFIDENCE_PRIOR_WEIGHT})
    INSERT INTO mixin_compatibility_matrix AS m (
        node_kind, mixin_a, mixin_b, success_count, failure_count, compatibility_score, confidence,
        last_outcome, last_error, updated_at
    ) VALUES (
        p_node_kind, v_first, v_second, v_successes, v_failures,
        CAST(v_successes + 1 AS double precision) / (v_successes + v_failures + 2),
        CAST(v_successes + v_failures AS double precision)
            / (v_successes + v_failures + {CONFIDENCE_PRIOR_WEIGHT}),
        CASE WHEN p_success THEN 'success' ELSE 'failure' END,
        p_error,
        now()
    )
    ON CONFLICT (node_kind, mixin_a, mixin_b) DO UPDATE SET
        success_count = m.success_count + EXCLUDED.success_count,
        failure_count = m.failure_count + EXCLUDED.failure_count,
        compatibility_score = CAST(m.success_count + EXCLUDED.success_count + 1 AS double precision)
            / (m.success_count + m.failure_count + EXCLUDED.success_count + EXCLUDED.failure_count + 2),
        confidence = CAST(m.success_count + m.failure_count + EXCLUDED.success_count
                + EXCLUDED.failure_count AS double precision)
            / (m.success_count + m.failure_count + EXCLUDED.success_count + EXCLUDED.failure_count
                + {CONFIDENCE_PRIOR_WEIGHT}),
        last_outcome = EXCLUDED.last_outcome,
        last_error = EXCLUDED.last_error,
        updated_at = EXCLUDED.updated_at
    RETURNING compatibility_score INTO v_score;
    RETURN v_score;
END;
$$
"""  # noqa: S608 (built from module constants only)

_RECORD_PATTERN_FEEDBACK = f"""
CREATE OR REPLACE FUNCTION record_pattern_feedback(
    p_pattern_id text,
    p_feedback_type text,
    p_confidence_before double precision DEFAULT NULL,
    p_note text DEFAULT NULL,
    p_user text DEFAULT NULL,
    p_metadata jsonb DEFAULT NULL,
    p_file_path text DEFAULT NULL,
    p_line_number integer DEFAULT NULL,
    p_snippet text DEFAULT NULL
) RETURNS integer
LANGUAGE plpgsql
AS $$
DECLARE
    v_id integer;
BEGIN
    IF p_feedback_type IS NULL OR p_feedback_type NOT IN ({_sql_list(FEEDBACK_TYPES)}) THEN
        RAISE EXCEPTION USING ERRCODE = '{UNKNOWN_FEEDBACK_TYPE_SQLSTATE}', MESSAGE = format(
            'unknown feedback_type "%s"; expected one of: {_FEEDBACK_TYPE_LIST}', p_feedback_type);
    END IF;
    IF coalesce(p_pattern_id, '') = '' THEN
        RAISE EXCEPTION USING ERRCODE = '{INVALID_CODEGEN_RECORD_SQLSTATE}',
            MESSAGE = 'pattern_id must be non-empty';
    END IF;
    IF p_confidence_before < 0 OR p_confidence_before > 1 THEN
        RAISE EXCEPTION USING ERRCODE = '{INVALID_CODEGEN_RECORD_SQLSTATE}', MESSAGE = format(
            'confidence_before must be between 0 and 1, got %s', p_confidence_before);
    END IF;
    IF p_line_number < 1 THEN
        RAISE EXCEPTION USING ERRCODE = '{INVALID_CODEGEN_RECORD_SQLSTATE}', MESSAGE = format(
            'line_number must be 1 or more, got %s', p_line_number);
    END IF;

    INSERT INTO pattern_feedback_log (
        pattern_id, feedback_type, confidence_before, file_path, line_number, snippet, note, user_name,
        metadata, recorded_at
    ) VALUES (
        p_pattern_id, p_feedback_type, p_confidence_before, p_file_path, p_line_number, p_snippet, p_note,
        p_user, coalesce(p_metadata, '{{}}'::jsonb), now()
    )
    RETURNING id INTO v_id;
    RETURN v_id;
END;
$$
"""  # noqa: S608 (built from module constants only)

# Full signatures: DROP FUNCTION needs them to name one overload.
_FUNCTION_SIGNATURES: Final = (
    "update_mixin_compatibility(text, text, text, boolean, text)",
    "record_pattern_feedback(text, text, double precision, text, text, jsonb, text, integer, text)",
)


def view_definitions(dialect_name: str) -> dict[str, str]:
    """``CREATE VIEW`` statement for each of the five views on ``dialect_name`` (sqlite or postgresql)."""
    _check_dialect(dialect_name)
    health = (
        _event_processing_health_postgresql() if dialect_name == "postgresql" else _event_processing_health_sqlite()
    )
    return {
        "mixin_compatibility_summary": _MIXIN_COMPATIBILITY_SUMMARY,
        "pattern_feedback_analysis": _PATTERN_FEEDBACK_ANALYSIS,
        "performance_metrics_summary": _PERFORMANCE_METRICS_SUMMARY,
        "template_cache_efficiency": _TEMPLATE_CACHE_EFFICIENCY,
        "event_processing_health": health,
    }


def function_definitions(dialect_name: str) -> dict[str, str]:
    """``CREATE FUNCTION`` statement per database function; none on SQLite (Python runs them there)."""
    _check_dialect(dialect_name)
    if dialect_name != "postgresql":
        return {}
    return {
        "update_mixin_compatibility": _UPDATE_MIXIN_COMPATIBILITY,
        "record_pattern_feedback": _RECORD_PATTERN_FEEDBACK,
    }


def create_statements(dialect_name: str) -> list[str]:
    """Every statement that creates the views and functions, in order (the tables must exist)."""
    return [*view_definitions(dialect_name).values(), *function_definitions(dialect_name).values()]


def drop_statements(dialect_name: str) -> list[str]:
    """Every statement that drops the views and functions, in order; safe when some are already gone."""
    _check_dialect(dialect_name)
    functions = (
        [f"DROP FUNCTION IF EXISTS {signature}" for signature in _FUNCTION_SIGNATURES]
        if dialect_name == "postgresql"
        else []
    )
    views = [f"DROP VIEW IF EXISTS {name}" for name in reversed(SEED_VIEW_NAMES)]
    return [*functions, *views]
