"""The contacts search of `crm serve` (``access.search_page``): its work is
bounded however many contacts match. Up to 200 matches come ranked with a
"More" link by position; more come in the order they were added, keyset-paged;
whole words are tried before prefixes; the access filter is part of the query."""

import re

import pytest

from crmcore import access
from crmcore.entities import Contact

pytest.importorskip("httpx")

ADMIN = {"email": "admin@example.com", "role": "admin", "name": None}
SALES = {"email": "sales@example.com", "role": "sales", "name": None}


@pytest.fixture
def many(make_crm):
    """230 "Common" contacts (the sales user owns 3), 60 "Middle", "Rare" and
    "Rarity" (one each) and a "Commonwealth"."""
    crm = make_crm()
    crm.add_many([Contact(first_name="Ann", last_name="Common", email=f"c{i}@example.com",
                          owner="sales@example.com" if i in (5, 100, 229) else "x@example.com") for i in range(230)])
    crm.add_many([Contact(first_name="Bo", last_name="Middle", email=f"m{i}@example.com") for i in range(60)])
    crm.add(Contact(first_name="Rare", last_name="Rare", email="r1@example.com"))
    crm.add(Contact(first_name="Cy", last_name="Rarity", email="r2@example.com"))
    crm.add(Contact(first_name="Dee", last_name="Commonwealth", email="w@example.com"))
    return crm


def all_pages(crm, user, text):
    """Every page of a search, following its links; returns the ids in order and the number of pages."""
    ids, after, skip, pages = [], None, None, 0
    while True:
        rows, after, skip = access.search_page(crm, user, text, after=after, skip=skip)
        ids += [r["id"] for r in rows]
        pages += 1
        if after is None and skip is None:
            return ids, pages


def test_more_than_200_matches_come_in_order_of_entry_keyset_paged(many):
    common = [r["id"] for r in many.store.query("SELECT id FROM contacts WHERE last_name = 'Common' ORDER BY id")]
    rows, after, skip = access.search_page(many, ADMIN, "common")
    assert [r["id"] for r in rows] == common[:50] and after == common[49] and skip is None
    ids, pages = all_pages(many, ADMIN, "common")
    assert ids == common and pages == 5  # 230 whole-word matches: "Commonwealth" is not expanded into them


def test_up_to_200_matches_are_ranked_and_paged_by_position(many):
    middle = {r["id"] for r in many.store.query("SELECT id FROM contacts WHERE last_name = 'Middle'")}
    rows, after, skip = access.search_page(many, ADMIN, "middle")
    assert len(rows) == 50 and after is None and skip == 50
    ids, pages = all_pages(many, ADMIN, "middle")
    assert sorted(ids) == sorted(middle) and pages == 2
    # a contact holding the word twice ranks before one that holds its prefix once
    assert [r["last_name"] for r in access.search_page(many, ADMIN, "rar")[0]] == ["Rare", "Rarity"]
    assert [r["last_name"] for r in access.search_page(many, ADMIN, "commonw")[0]] == ["Commonwealth"]
    assert access.search_page(many, ADMIN, "ra")[0] == []  # two letters match whole words only


def test_the_access_filter_is_part_of_the_search(many):
    ids, pages = all_pages(many, SALES, "common")
    owned = [r["id"] for r in many.store.query("SELECT id FROM contacts WHERE owner = 'sales@example.com' ORDER BY id")]
    assert ids == owned and len(owned) == 3 and pages == 1
    assert access.search_page(many, SALES, "middle")[0] == []


def test_the_search_page_links_its_next_page_and_keeps_the_query(many, web_user):
    c = web_user(many, "manager")
    first = c.get("/contacts", params={"q": "common"})
    assert first.status_code == 200 and "shown in the order they were added" in first.text
    after = re.search(r'href="/contacts\?q=common&amp;after=(\d+)" rel="next">More<', first.text).group(1)
    second = c.get(f"/contacts?q=common&after={after}")
    assert len(re.findall(r'href="/contacts/\d+"', second.text)) == 50 and "First page" in second.text
    ranked = c.get("/contacts", params={"q": "middle"})
    assert "best first" in ranked.text and 'href="/contacts?q=middle&amp;skip=50" rel="next">More<' in ranked.text
    assert len(re.findall(r'href="/contacts/\d+"', c.get("/contacts?q=middle&skip=50").text)) == 10
    bad = c.get("/contacts?q=middle&skip=lots")
    assert bad.status_code == 400 and "skip=" in bad.text
