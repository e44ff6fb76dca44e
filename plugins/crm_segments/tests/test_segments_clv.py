"""Lifetime value: the likelihoods by hand, parameters recovered from simulated
customers, and the command end to end."""

import datetime as dt
import json
import math
import sys

import pytest

import numpy as np  # the clv extra, part of the test extra

import crm_segments
from crm_segments import clv
from crm_segments import segments as seg
from crmcore import CRMError
from crmcore.entities import Contact, Order


# -- the likelihoods, by hand -------------------------------------------------------------

def _beta(a, b):
    return math.exp(math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b))


def bgnbd_likelihood_by_hand(r, alpha, a, b, x, t_x, T):
    """Fader, Hardie & Lee (2005), equation 6, as printed (no logs)."""
    gamma_part = math.gamma(r + x) * alpha ** r / math.gamma(r)
    value = _beta(a, b + x) / _beta(a, b) * gamma_part / (alpha + T) ** (r + x)
    if x > 0:
        value += _beta(a + 1, b + x - 1) / _beta(a, b) * gamma_part / (alpha + t_x) ** (r + x)
    return value


def gamma_gamma_density_by_hand(p, q, v, x, m):
    """Fader & Hardie's Gamma-Gamma note: the density of the mean m of x purchases."""
    return (math.gamma(p * x + q) / (math.gamma(p * x) * math.gamma(q))
            * v ** q * m ** (p * x - 1) * x ** (p * x) / (v + x * m) ** (p * x + q))


TINY = [(0, 0, 30), (1, 10, 40), (3, 25, 28), (2, 60, 90)]


def test_bgnbd_log_likelihood_matches_the_formula_by_hand():
    params = (0.8, 12.0, 0.6, 2.2)
    x, t_x, T = (np.array(col, float) for col in zip(*TINY))
    got = clv.bgnbd_log_likelihood(params, x, t_x, T)
    want = [math.log(bgnbd_likelihood_by_hand(*params, *row)) for row in TINY]
    assert got.tolist() == pytest.approx(want, rel=1e-12)
    # The first customer never came back: B(a, b)/B(a, b) Γ(r) α^r / (Γ(r) (α+T)^r) = (12/42)^0.8.
    assert got[0] == pytest.approx(0.8 * math.log(12 / 42), rel=1e-12)


def test_gamma_gamma_log_likelihood_matches_the_formula_by_hand():
    params = (6.0, 4.0, 15.0)
    x, m = np.array([1.0, 2.0, 5.0]), np.array([10.0, 35.5, 20.0])
    got = clv.gamma_gamma_log_likelihood(params, x, m)
    want = [math.log(gamma_gamma_density_by_hand(*params, xi, mi)) for xi, mi in zip(x, m)]
    assert got.tolist() == pytest.approx(want, rel=1e-12)


def test_scores_by_hand():
    params = (0.8, 12.0, 0.6, 2.2)
    x, t_x, T = np.array([0.0, 2.0]), np.array([0.0, 60.0]), np.array([30.0, 90.0])
    # P(alive) = 1 / (1 + a / (b + x - 1) * ((alpha + T) / (alpha + t_x)) ** (r + x))
    assert clv.p_alive(params, x, t_x, T).tolist() == pytest.approx([1.0, 1 / (1 + 0.6 / 3.2 * (102 / 72) ** 2.8)])
    # A customer seen once, over a horizon t: (a+b-1)/(a-1) [1 - ((α+T)/(α+T+t))^r 2F1(r, b; a+b-1; t/(α+T+t))].
    from scipy.special import hyp2f1

    t = 50
    want = (0.6 + 2.2 - 1) / (0.6 - 1) * (1 - (42 / 92) ** 0.8 * hyp2f1(0.8, 2.2, 1.8, 50 / 92))
    assert clv.expected_purchases(params, t, x, t_x, T)[0] == pytest.approx(want, rel=1e-10)
    # Gamma-Gamma: p (v + x m) / (p x + q - 1); without repeats the population mean p v / (q - 1).
    assert clv.expected_order_value((6.0, 4.0, 15.0), np.array([0.0, 2.0]), np.array([0.0, 35.5])).tolist() == \
        pytest.approx([30.0, 6 * (15 + 71) / 15])


# -- parameters recovered from simulated customers ------------------------------------------

def simulate_bgnbd(n, r, alpha, a, b, rng):
    """Customers buying at Poisson rates λ ~ Gamma(r, α), dropping out after a purchase with p ~ Beta(a, b)."""
    lam, drop, T = rng.gamma(r, 1 / alpha, n), rng.beta(a, b, n), rng.uniform(100, 300, n)
    x, t_x = np.zeros(n), np.zeros(n)
    for i in range(n):
        t = 0.0
        while True:
            t += rng.exponential(1 / lam[i])
            if t > T[i]:
                break
            x[i] += 1
            t_x[i] = t
            if rng.random() < drop[i]:
                break
    return x, t_x, T


def standard_errors(loglik, params, columns):
    """From the inverse of the observed information (a central-difference Hessian)."""
    k = len(params)
    h = [1e-4 * p for p in params]

    def total(values):
        return float(loglik(values, *columns).sum())

    hess = np.zeros((k, k))
    for i in range(k):
        for j in range(k):
            shifted = []
            for si, sj in ((1, 1), (1, -1), (-1, 1), (-1, -1)):
                v = list(params)
                v[i] += si * h[i]
                v[j] += sj * h[j]
                shifted.append(total(v))
            hess[i, j] = (shifted[0] - shifted[1] - shifted[2] + shifted[3]) / (4 * h[i] * h[j])
    return np.sqrt(np.diag(np.linalg.inv(-hess)))


def test_bgnbd_recovers_the_parameters_it_simulated():
    rng = np.random.default_rng(11)
    true = (0.6, 20.0, 0.9, 3.0)
    x, t_x, T = simulate_bgnbd(3000, *true, rng)
    est, _ = clv.fit_bgnbd(x, t_x, T)
    se = standard_errors(clv.bgnbd_log_likelihood, est, (x, t_x, T))
    for name, t, e, s in zip("r alpha a b".split(), true, est, se):
        assert abs(e - t) < 3.5 * s, f"{name}: {e:.4g} vs true {t} (standard error {s:.3g})"
        assert s < 0.25 * t   # and the errors are small enough for that to mean something


def test_gamma_gamma_recovers_the_parameters_it_simulated():
    rng = np.random.default_rng(5)
    p, q, v = 6.0, 4.0, 15.0
    n = 3000
    nu = rng.gamma(q, 1 / v, n)
    x = rng.integers(1, 8, n).astype(float)
    m = rng.gamma(p * x, 1 / (nu * x))   # the mean of x Gamma(p, ν) purchases is Gamma(px, xν)
    est, _ = clv.fit_gamma_gamma(x, m)
    se = standard_errors(clv.gamma_gamma_log_likelihood, est, (x, m))
    for name, t, e, s in zip("p q v".split(), (p, q, v), est, se):
        assert abs(e - t) < 3.5 * s, f"{name}: {e:.4g} vs true {t} (standard error {s:.3g})"


# -- from orders to stored scores --------------------------------------------------------------

@pytest.fixture
def crm(make_crm):
    """40 customers with a spread of habits, plus one with two orders on one day."""
    crm = make_crm(plugins=[crm_segments])
    rng = np.random.default_rng(3)
    ids = crm.add_many([Contact(email=f"c{i}@example.com", country="DE" if i % 2 else "AT") for i in range(41)])
    start = dt.date(2025, 1, 1)
    orders = []
    for cid in ids[:40]:
        first = int(rng.integers(0, 120))
        days = sorted({first, *(first + int(d) for d in rng.integers(1, 240 - first, int(rng.integers(0, 6))))})
        orders += [Order(contact_id=cid, ordered_at=(start + dt.timedelta(days=d)).isoformat(), total=float(rng.integers(20, 200)))
                   for d in days]
    last = ids[40]
    orders += [Order(contact_id=last, ordered_at="2025-03-01", total=50), Order(contact_id=last, ordered_at="2025-03-01", total=25),
               Order(contact_id=last, ordered_at="2025-03-11", total=40), Order(contact_id=last, ordered_at="2025-03-21", total=80),
               Order(contact_id=last, ordered_at="2025-09-01", total=999)]   # after the as-of date
    crm.add_many(orders)
    crm.ids = ids
    return crm


AS_OF = dt.date(2025, 8, 31)


def test_customer_summaries_by_hand(crm):
    ids, x, t_x, T, m = clv.summaries(crm, AS_OF)
    i = ids.tolist().index(crm.ids[40])
    # Purchase days 1, 11 and 21 March: two repeat days, 20 days apart, first day 183 days before 31 August.
    # The first day's 75 is left out of the mean of the repeat days: (40 + 80) / 2.
    assert (x[i], t_x[i], T[i], m[i]) == (2, 20, 183, 60.0)


def test_stored_scores_follow_the_fitted_parameters(crm):
    params, _ = clv.compute(crm, AS_OF, horizon_days=90, discount_rate=0.0)
    r, alpha, a, b = (params[k] for k in ("r", "alpha", "a", "b"))
    p, q, v = (params[k] for k in ("p", "q", "v"))
    row = crm.store.query("SELECT * FROM segment_clv WHERE contact_id = ?", (crm.ids[40],))[0]
    assert (row["frequency"], row["recency_days"], row["age_days"], row["as_of"]) == (2, 20, 183, "2025-08-31")
    assert row["p_alive"] == pytest.approx(1 / (1 + a / (b + 1) * ((alpha + 183) / (alpha + 20)) ** (r + 2)), abs=1e-6)
    assert row["expected_order_value"] == pytest.approx(p * (v + 2 * 60) / (p * 2 + q - 1), abs=0.006)
    # Undiscounted, the value is expected purchases times expected order value.
    assert row["clv"] == pytest.approx(row["expected_purchases"] * row["expected_order_value"], abs=0.02)
    assert crm.store.count("segment_clv") == 41
    # A segment rule can use the stored scores.
    seg.create_segment(crm, "likely", "p_alive >= 0.5 and expected_purchases > 0 and clv >= 0")
    expected = crm.store.query_value("SELECT count(*) FROM segment_clv WHERE p_alive >= 0.5")
    assert seg.refresh(crm, ["likely"], AS_OF)[0]["size"] == expected > 0
    # Discounting lowers the value; erasing a contact removes their scores.
    clv.compute(crm, AS_OF, horizon_days=90, discount_rate=0.5)
    assert crm.store.query_value("SELECT clv FROM segment_clv WHERE contact_id = ?", (crm.ids[40],)) < row["clv"]
    crm.erase_contact(crm.ids[40])
    assert crm.store.query_value("SELECT count(*) FROM segment_clv WHERE contact_id = ?", (crm.ids[40],)) == 0


def test_nothing_to_fit(make_crm):
    crm = make_crm(plugins=[crm_segments])
    with pytest.raises(CRMError, match="no orders with a customer up to 2025-01-01"):
        clv.compute(crm, dt.date(2025, 1, 1))
    cid = crm.add(Contact(email="a@example.com"))
    crm.add(Order(contact_id=cid, ordered_at="2024-05-01", total=10))
    with pytest.raises(CRMError, match="no customer has bought on a second day"):
        clv.compute(crm, dt.date(2025, 1, 1))


def test_without_numpy_and_scipy_one_line_names_the_extra(crm, monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy", None)
    with pytest.raises(CRMError, match=r"pip install 'crmcore\[clv\]'"):
        clv.compute(crm, AS_OF)


def test_clv_command(run_cli, tmp_path):
    def ok(*args):
        result = run_cli(list(args), plugins="segments")
        assert result.exit_code == 0, result.output
        return result.output

    ok("init")
    lines = ["ref,email,ordered_at,total"]
    for i in range(12):
        ok("contacts", "add", "--email", f"c{i}@example.com")
        for k in range(i % 4 + 1):
            lines.append(f"R{i}-{k},c{i}@example.com,2025-0{1 + k * 2}-{10 + i:02d},{20 + 10 * i + k}")
    path = tmp_path / "orders.csv"
    path.write_text("\n".join(lines) + "\n")
    ok("orders", "import", str(path))
    rows = json.loads(ok("segments", "clv", "--as-of", "2025-08-31", "--horizon-days", "180", "--json"))
    assert len(rows) == 12 and list(rows[0]) == clv.CLV_FIELDS
    c3 = next(r for r in rows if r["email"] == "c3@example.com")
    # Orders on 13 January, March, May and July: 3 repeat days, 181 days apart, first 230 days before 31 August.
    assert (c3["frequency"], c3["recency_days"], c3["age_days"]) == (3, 181, 230)
    assert [r["clv"] for r in rows] == sorted((r["clv"] for r in rows), reverse=True)
    params = json.loads(ok("segments", "clv", "--as-of", "2025-08-31", "--params", "--json"))
    assert list(params) == ["r", "alpha", "a", "b", "p", "q", "v"] and all(v > 0 for v in params.values())
    header = ok("segments", "clv", "--as-of", "2025-08-31", "--csv").splitlines()[0]
    assert header == ",".join(clv.CLV_FIELDS)
    for args, message in [(["--as-of", "2025-02-30"], "--as-of"), (["--as-of", "2025-08-31", "--discount-rate", "-2"], "--discount-rate"),
                          (["--as-of", "2025-08-31", "--horizon-days", "0"], "--horizon-days"), ([], "--as-of")]:
        bad = run_cli(["segments", "clv", *args], plugins="segments")
        assert bad.exit_code != 0 and message in bad.output and "Traceback" not in bad.output, bad.output
