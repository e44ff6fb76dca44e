"""The example plugin's own tests, using the fixtures crmcore gives every plugin author."""

import crm_loyalty
from crm_loyalty.points import award, balance, points_for

from crmcore.entities import Contact, Order


def test_points_per_full_ten():
    assert [points_for(t) for t in (0, 9.99, 10, 25.5, None)] == [0, 0, 1, 2, 0]


def test_saving_orders_awards_points(make_crm):
    crm = make_crm(plugins=[crm_loyalty])
    ada = crm.add(Contact(first_name="Ada", email="ada@example.com"))
    crm.add_many([Order(contact_id=ada, ordered_at="2025-01-02", total=25.0), Order(contact_id=ada, ordered_at="2025-01-03", total=9.0)])
    assert balance(crm, ada) == 2
    assert award(crm, "ada@example.com", -2, "redeemed") == 0


def test_cli_award_and_balance(run_cli):
    assert run_cli(["init"], plugins="loyalty").exit_code == 0
    assert run_cli(["contacts", "add", "--email", "bo@example.com"], plugins="loyalty").exit_code == 0
    assert run_cli(["loyalty", "award", "bo@example.com", "7"], plugins="loyalty").output.strip() == "Balance: 7"
    result = run_cli(["loyalty", "balance", "--json"], plugins="loyalty")
    assert '"points": 7' in result.output
