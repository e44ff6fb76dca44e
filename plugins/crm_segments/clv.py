"""Customer lifetime value: BG/NBD purchases and Gamma-Gamma order values.

Per customer, from the orders up to the as-of date (time in days):

- ``frequency`` (x)      : repeat purchases, i.e. distinct purchase days after the first
- ``recency_days`` (t_x) : days from the first purchase day to the last
- ``age_days`` (T)       : days from the first purchase day to the as-of date
- the average spend of the repeat purchase days (the first day is left out)

BG/NBD (Fader, Hardie & Lee 2005, "Counting your customers the easy way"):
while alive a customer buys at rate λ ~ Gamma(r, α); after each purchase
they drop out with probability p ~ Beta(a, b). Its log-likelihood per
customer (their equation 6, in logs):

    ln L = ln Γ(r+x) − ln Γ(r) + r ln α + ln B(a, b+x) − ln B(a, b)
           + ln[ (α+T)^−(r+x) + 1{x>0} · a/(b+x−1) · (α+t_x)^−(r+x) ]

Gamma-Gamma (Fader & Hardie, "The Gamma-Gamma model of monetary value",
2013): a customer's spend per purchase is Gamma(p, ν), ν ~ Gamma(q, γ) (γ
is called ``v`` here, as in that note's code). For the mean m̄ of x > 0
repeat purchases:

    ln L = ln Γ(px+q) − ln Γ(px) − ln Γ(q) + q ln v + (px−1) ln m̄ + px ln x − (px+q) ln(v + x m̄)

Both are summed over groups of identical summaries (weighted by their
count), vectorised in numpy, and maximised with ``scipy.optimize.minimize``
(L-BFGS-B) over the logarithms of the parameters, which keeps them positive.

Scores: P(alive), the expected purchases within the horizon (their
equation 10, with the Gaussian hypergeometric function), the expected
order value ``p (v + x m̄) / (p x + q − 1)`` (the population mean
``p v / (q − 1)`` without repeat purchases), and

    clv = Σ over 30-day steps i up to the horizon of
          (E[purchases by t_i] − E[purchases by t_(i−1)]) × expected order value / (1 + R)^(t_i / 365)

with R the yearly discount rate. numpy and scipy come with the optional
extra ``clv``; everything here imports them lazily.
"""

import datetime as dt
import math

from crmcore import CRMError, require_rates

CLV_FIELDS = ["email", "frequency", "recency_days", "age_days", "p_alive", "expected_purchases", "expected_order_value", "clv"]
PARAM_NAMES = ("r", "alpha", "a", "b", "p", "q", "v")
SETTING = "segments.clv"
STEP_DAYS = 30
MISSING = "customer lifetime value needs numpy and scipy: pip install 'crmcore[clv]'"


def _libs():
    try:
        import numpy as np
        from scipy import optimize, special
    except ImportError:
        raise CRMError(MISSING) from None
    return np, optimize, special


# -- data ------------------------------------------------------------------------------

# One row per customer: purchase days, first and last day, what they spent in
# all, and (one index lookup each) what they spent on the first day. The
# grouping walks the covering index ix_segments_orders_rfm (contact_id,
# ordered_at, total, fx_rate) in order; spend is in the base currency; order dates are days (no time of day).
SUMMARY_SQL = """
SELECT f.contact_id, f.days - 1 AS x, {recency} AS t_x, {age} AS t,
       f.spent - (SELECT sum(o.total * o.fx_rate) FROM orders o WHERE o.contact_id = f.contact_id AND o.ordered_at = f.first) AS repeat_spent
FROM (SELECT contact_id, count(DISTINCT ordered_at) AS days, min(ordered_at) AS first, max(ordered_at) AS last, sum(total * fx_rate) AS spent
      FROM orders WHERE contact_id IS NOT NULL AND ordered_at <= ? GROUP BY contact_id) AS f
ORDER BY f.contact_id
"""


def summaries(crm, as_of):
    """``(contact_ids, x, t_x, T, m)`` numpy arrays of every customer with an
    order up to ``as_of``; ``m`` is the mean spend of the repeat purchase
    days (0 without repeats)."""
    np, _, _ = _libs()
    require_rates(crm)
    dialect = crm.store.dialect
    sql = SUMMARY_SQL.format(recency=dialect.days_between("f.last", "f.first"), age=dialect.days_between("?", "f.first"))
    cur = crm.store.execute(sql, (as_of.isoformat(), as_of.isoformat()))
    rows = cur.fetchall()
    if not rows:
        empty = np.zeros(0)
        return empty.astype(np.int64), empty, empty, empty, empty
    ids, x, t_x, T, repeat = (np.array(col) for col in zip(*rows))
    x = x.astype(float)
    repeat = repeat.astype(float)
    m = np.divide(repeat, x, out=np.zeros_like(repeat), where=x > 0)
    return ids.astype(np.int64), x, t_x.astype(float), T.astype(float), m


def grouped(*columns):
    """Identical rows once, with how many times each occurs."""
    np, _, _ = _libs()
    stacked = np.column_stack(columns)
    unique, counts = np.unique(stacked, axis=0, return_counts=True)
    return [unique[:, i] for i in range(unique.shape[1])], counts.astype(float)


# -- BG/NBD ---------------------------------------------------------------------------


def bgnbd_log_likelihood(params, x, t_x, T):
    """Per-row log-likelihood of BG/NBD parameters ``(r, alpha, a, b)``."""
    np, _, special = _libs()
    r, alpha, a, b = params
    gammaln, betaln = special.gammaln, special.betaln
    head = gammaln(r + x) - gammaln(r) + r * np.log(alpha) + betaln(a, b + x) - betaln(a, b)
    gone = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        alive = np.where(x > 0, np.log(a) - np.log(np.where(x > 0, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x), -np.inf)
    return head + np.logaddexp(gone, alive)


def gamma_gamma_log_likelihood(params, x, m):
    """Per-row log-likelihood of Gamma-Gamma parameters ``(p, q, v)`` for
    customers with ``x > 0`` repeat purchases of mean value ``m > 0``."""
    np, _, special = _libs()
    p, q, v = params
    gammaln = special.gammaln
    return (gammaln(p * x + q) - gammaln(p * x) - gammaln(q) + q * np.log(v) + (p * x - 1) * np.log(m)
            + p * x * np.log(x) - (p * x + q) * np.log(v + x * m))


def bgnbd_gradient(params, x, t_x, T):
    """Per-row derivatives of ``bgnbd_log_likelihood`` by r, alpha, a and b
    (rows: parameters), from the log-sum-exp form: the two terms' shares
    ``w_gone`` and ``w_alive`` weight their derivatives."""
    np, _, special = _libs()
    r, alpha, a, b = params
    psi = special.digamma
    gone = -(r + x) * np.log(alpha + T)
    with np.errstate(divide="ignore", invalid="ignore"):
        alive = np.where(x > 0, np.log(a) - np.log(np.where(x > 0, b + x - 1, 1.0)) - (r + x) * np.log(alpha + t_x), -np.inf)
    total = np.logaddexp(gone, alive)
    w_gone, w_alive = np.exp(gone - total), np.exp(alive - total)
    repeat = np.where(x > 0, b + x - 1, 1.0)
    d_r = psi(r + x) - psi(r) + np.log(alpha) - w_gone * np.log(alpha + T) - w_alive * np.log(alpha + t_x)
    d_alpha = r / alpha - w_gone * (r + x) / (alpha + T) - w_alive * (r + x) / (alpha + t_x)
    d_a = psi(a + b) - psi(a + b + x) + w_alive / a
    d_b = psi(b + x) - psi(a + b + x) - psi(b) + psi(a + b) - w_alive / repeat
    return np.array([d_r, d_alpha, d_a, d_b])


def gamma_gamma_gradient(params, x, m):
    """Per-row derivatives of ``gamma_gamma_log_likelihood`` by p, q and v."""
    np, _, special = _libs()
    p, q, v = params
    psi = special.digamma
    spend = np.log(v + x * m)
    d_p = x * (psi(p * x + q) - psi(p * x) + np.log(m) + np.log(x) - spend)
    d_q = psi(p * x + q) - psi(q) + np.log(v) - spend
    d_v = q / v - (p * x + q) / (v + x * m)
    return np.array([d_p, d_q, d_v])


def _fit(loglik, gradient, columns, weights, start, what):
    np, optimize, _ = _libs()
    if weights.sum() == 0:
        raise CRMError(f"{what}: no customers to fit")
    n = weights.sum()

    def negative(log_params):
        params = np.exp(log_params)
        value = -(weights * loglik(params, *columns)).sum() / n
        if not np.isfinite(value):
            return 1e300, np.zeros_like(log_params)
        # By the chain rule, d/d(log θ) = θ d/dθ.
        grad = -(gradient(params, *columns) * weights).sum(axis=1) / n * params
        return value, np.where(np.isfinite(grad), grad, 0.0)

    result = optimize.minimize(negative, np.log(start), jac=True, method="L-BFGS-B", bounds=[(-12.0, 12.0)] * len(start))
    if not np.isfinite(result.fun) or result.fun >= 1e300:
        raise CRMError(f"{what}: the model could not be fitted to these orders")
    return [float(v) for v in np.exp(result.x)], float(-result.fun * n)


def fit_bgnbd(x, t_x, T, weights=None):
    """Maximum-likelihood ``(r, alpha, a, b)`` and the log-likelihood."""
    np, _, _ = _libs()
    if weights is None:
        (x, t_x, T), weights = grouped(x, t_x, T)
    scale = max(float(np.average(T, weights=weights)), 1.0)
    return _fit(bgnbd_log_likelihood, bgnbd_gradient, (x, t_x, T), np.asarray(weights, float), [1.0, scale, 1.0, 1.0], "BG/NBD")


def fit_gamma_gamma(x, m, weights=None):
    """Maximum-likelihood ``(p, q, v)`` from customers with repeat purchases."""
    np, _, _ = _libs()
    keep = (x > 0) & (m > 0)
    x, m = x[keep], m[keep]
    if weights is None:
        (x, m), weights = grouped(x, m)
    else:
        weights = np.asarray(weights, float)[keep]
    if len(x) == 0:
        raise CRMError("Gamma-Gamma: no customer has a repeat purchase with a positive total")
    mean = float(np.average(m, weights=weights))
    return _fit(gamma_gamma_log_likelihood, gamma_gamma_gradient, (x, m), weights, [2.0, 3.0, mean], "Gamma-Gamma")


# -- scores ---------------------------------------------------------------------------


def p_alive(params, x, t_x, T):
    np, _, _ = _libs()
    r, alpha, a, b = params
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        log_ratio = np.log(a) - np.log(np.where(x > 0, b + x - 1, 1.0)) + (r + x) * (np.log(alpha + T) - np.log(alpha + t_x))
        return np.where(x > 0, 1.0 / (1.0 + np.exp(log_ratio)), 1.0)


def expected_purchases(params, t, x, t_x, T):
    """E[purchases in the next ``t`` days | x, t_x, T] (FHL 2005, eq. 10)."""
    np, _, special = _libs()
    r, alpha, a, b = params
    if t <= 0:
        return np.zeros_like(x)
    z = t / (alpha + T + t)
    hyp = special.hyp2f1(r + x, b + x, a + b + x - 1, z)
    head = (a + b + x - 1) / (a - 1) * (1 - np.exp((r + x) * (np.log(alpha + T) - np.log(alpha + T + t))) * hyp)
    return head * p_alive(params, x, t_x, T)


def expected_order_value(params, x, m):
    np, _, _ = _libs()
    p, q, v = params
    return np.where(x > 0, p * (v + x * m) / (p * x + q - 1), p * v / (q - 1))


def lifetime_value(bg, gg, x, t_x, T, m, horizon_days=365, discount_rate=0.0):
    """Discounted value of the purchases expected within ``horizon_days``."""
    np, _, _ = _libs()
    value = expected_order_value(gg, x, m)
    total = np.zeros_like(x)
    before = np.zeros_like(x)
    steps = list(range(STEP_DAYS, horizon_days, STEP_DAYS)) + [horizon_days]
    for t in steps:
        now = expected_purchases(bg, t, x, t_x, T)
        total += (now - before) * value / (1 + discount_rate) ** (t / 365.0)
        before = now
    return total, before, value


# -- the whole run --------------------------------------------------------------------


def compute(crm, as_of=None, horizon_days=365, discount_rate=0.0, store=True, progress=None):
    """Fit both models to the orders up to ``as_of``, score every customer and
    (``store``) replace the stored scores. Returns ``(params, rows)``:
    params as a dict of ``PARAM_NAMES`` plus the log-likelihoods, rows
    dicts of the scores with ``contact_id``."""
    np, _, _ = _libs()
    if horizon_days < 1:
        raise CRMError("--horizon-days: must be at least 1")
    if not discount_rate > -1 or not math.isfinite(discount_rate):
        raise CRMError("--discount-rate: must be above -1 (0.1 is 10% a year)")
    as_of = as_of or dt.date.today()
    step = progress or (lambda n: None)
    ids, x, t_x, T, m = summaries(crm, as_of)
    step(1)
    if not len(ids):
        raise CRMError(f"no orders with a customer up to {as_of.isoformat()}: nothing to fit")
    if not (x > 0).any():
        raise CRMError("BG/NBD: no customer has bought on a second day yet: nothing to fit")
    bg, bg_ll = fit_bgnbd(x, t_x, T)
    step(1)
    gg, gg_ll = fit_gamma_gamma(x, m)
    if gg[1] <= 1:
        raise CRMError(f"Gamma-Gamma: fitted q = {gg[1]:.3g} <= 1 means no finite average order value; too few repeat purchases")
    step(1)
    clv, purchases, value = lifetime_value(bg, gg, x, t_x, T, m, horizon_days, discount_rate)
    alive = p_alive(bg, x, t_x, T)
    step(1)
    params = dict(zip(PARAM_NAMES, bg + gg))
    params.update({"bgnbd_log_likelihood": bg_ll, "gamma_gamma_log_likelihood": gg_ll, "customers": int(len(ids)),
                   "as_of": as_of.isoformat(), "horizon_days": horizon_days, "discount_rate": discount_rate})
    columns = {"contact_id": ids.tolist(), "frequency": x.astype(np.int64).tolist(), "recency_days": t_x.astype(np.int64).tolist(),
               "age_days": T.astype(np.int64).tolist(), "p_alive": np.round(alive, 6).tolist(),
               "expected_purchases": np.round(purchases, 6).tolist(), "expected_order_value": np.round(value, 2).tolist(),
               "clv": np.round(clv, 2).tolist()}
    if store:
        save(crm, params, columns)
    step(1)
    return params, columns


#: Steps ``compute`` reports to its ``progress`` callback.
STEPS = 5
STORED = ["contact_id", "frequency", "recency_days", "age_days", "p_alive", "expected_purchases", "expected_order_value", "clv"]


def save(crm, params, columns):
    store = crm.store
    with store.transaction():
        store.execute("DELETE FROM segment_clv")
        as_of = params["as_of"]
        rows = zip(*(columns[c] for c in STORED), [as_of] * len(columns["contact_id"]))
        store.copy_rows("segment_clv", STORED + ["as_of"], rows)
        crm.set_setting(SETTING, {k: params[k] for k in params})


def rows(crm, limit=None):
    """Stored scores with e-mails, highest value first."""
    sql = ("SELECT c.email, x.contact_id, x.frequency, x.recency_days, x.age_days, x.p_alive, x.expected_purchases, "
           "x.expected_order_value, x.clv FROM segment_clv x JOIN contacts c ON c.id = x.contact_id "
           "ORDER BY x.clv DESC, x.contact_id")
    params = []
    if limit:
        sql += " LIMIT ?"
        params.append(limit)
    return crm.store.query(sql, params)


def stored_params(crm):
    """The parameters of the last stored run, or ``None``."""
    return crm.get_setting(SETTING, None)


def summary(crm):
    """Totals of the stored scores for reports: customers, value, mean P(alive)."""
    row = crm.store.query("SELECT count(*) AS customers, sum(clv) AS clv, avg(p_alive) AS p_alive, "
                          "sum(expected_purchases) AS purchases FROM segment_clv")[0]
    return row if row["customers"] else None
