"""Realistic, deterministic Totesys data at any scale, as COPY lines per table.

Shapes follow the real sample in shared/data/totesys: ~30 addresses, 20 counterparties, GBP/USD/EUR,
8 departments, ~500 designs, 20 staff, 4 payment types; N sales orders (units 1,000-100,000 at
2.00-4.00), 0.42 N purchase orders (1-999 items at 3.32-999.07), one transaction per order and one
payment per transaction, all spread over two years. Every table has its own random stream derived
from the seed, so the orders can be generated again (for their transactions and payments) instead of
being held in memory: memory stays flat whatever the scale.
"""

from __future__ import annotations

import heapq
import random
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

import pycountry

from lambdas.shared.totesys import PAYMENT_TYPE_NAMES

START = datetime(2022, 11, 3, 14, 20, 49, 962000)
SPAN_MS = 2 * 365 * 24 * 3600 * 1000  # two years of business
PURCHASE_RATIO = 0.42
AMENDED_FRACTION = 0.10  # share of orders whose row was updated after creation
REFUND_FRACTION = 0.03

ADDRESSES, COUNTERPARTIES, DESIGNS, STAFF = 30, 20, 500, 20
CURRENCIES = ("GBP", "USD", "EUR")
DEPARTMENTS = (("Sales", "Manchester", "Richard Roma"), ("Purchasing", "Manchester", "Naomi Lapaglia"),
               ("Production", "Leeds", "Chester Ritchie"), ("Dispatch", "Leds", "Mark Hanna"),
               ("Finance", "Manchester", "Jordan Belfort"), ("Facilities", "Manchester", "Shelley Levene"),
               ("Communications", "Leeds", "Ann Blake"), ("HR", "Leeds", "James Link"))
_FIRST = ("Jeremie", "Deron", "Jeanette", "Ana", "Magdalena", "Korey", "Raphael", "Oscar", "Antwan", "Hazel",
          "Lucy", "Melba", "Jean", "Micheal", "Flavio", "Imani", "Stan", "Rick", "Yolanda", "Dee")
_LAST = ("Franey", "Beier", "Erdman", "Glover", "Zieme", "Kuhlman", "Rippin", "Bashirian", "Ondricka", "Smith",
         "Toy", "Sanford", "Hane", "Runolfsdottir", "Kulas", "Moen", "Lang", "Wiza", "Hammes", "Crona")
_STREETS = ("Herzog Via", "Alexie Cliffs", "Weimann Park", "Torphy Turnpike", "Kertzmann Meadows", "Hane Glen")
_CITIES = ("New Patienceburgh", "Aliso Viejo", "Lake Arne", "Fresno", "East Bobbie", "Utica", "Sayreville",
           "Pricetown", "Olsonside", "South Wyatt")
_DISTRICTS = ("Avon", "Buckinghamshire", "Cambridgeshire", "Bedfordshire", "Berkshire", None, None)
_COMPANY = ("Fahey and Sons", "Leannon, Predovic and Morar", "Armstrong Inc", "Kohler Inc", "Frami, Yundt and Macejkovic",
            "Mraz LLC", "Padberg, Lueilwitz and Johnson", "Grant - Lakin", "Price LLC", "Bosco, Fadel and Rowe")
_MATERIALS = ("Wooden", "Bronze", "Steel", "Soft", "Granite", "Concrete", "Frozen", "Metal", "Plastic", "Cotton",
              "Rubber", "Fresh", "Granite", "Tasty", "Fantastic", "Rustic")
_FOLDERS = ("/usr", "/private", "/net", "/usr/libexec", "/usr/ports", "/etc", "/Library", "/media", "/usr/src")
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def stamp(ms: int) -> str:
    """A timestamp(3) literal for `ms` milliseconds after START."""
    return (START + timedelta(milliseconds=ms)).isoformat(sep=" ", timespec="milliseconds")


def _rng(seed: int, table: str) -> random.Random:
    return random.Random(f"{seed}/{table}")


@dataclass(frozen=True)
class Order:
    """What a transaction and its payment need to know about the order behind them."""

    kind: str  # "SALE" or "PURCHASE"
    order_id: int
    created_ms: int
    counterparty_id: int
    currency_id: int
    amount_cents: int
    payment_date: str


class TotesysGenerator:
    """Generates every table of a Totesys database for `scale` sales orders."""

    def __init__(self, scale: int, seed: int = 1) -> None:
        if scale <= 0:
            raise ValueError(f"scale must be a positive number of sales orders, not {scale}")
        self.scale = scale
        self.seed = seed
        self.purchases = max(1, round(scale * PURCHASE_RATIO))

    # ---- dimensions -------------------------------------------------------------------------
    def address(self) -> Iterator[str]:
        rng = _rng(self.seed, "address")
        countries = sorted(c.name for c in pycountry.countries)
        created = stamp(0)
        for i in range(1, ADDRESSES + 1):
            district = rng.choice(_DISTRICTS)
            line_2 = rng.choice((None, None, f"Apt. {rng.randint(1, 999)}"))
            phone = f"{rng.randint(1000, 9999)} {rng.randint(100000, 999999)}"
            yield "\t".join((str(i), f"{rng.randint(1, 9999)} {rng.choice(_STREETS)}", line_2 or "\\N",
                             district or "\\N", rng.choice(_CITIES), f"{rng.randint(10000, 99999)}",
                             rng.choice(countries), phone, created, created))

    def currency(self) -> Iterator[str]:
        created = stamp(0)
        for i, code in enumerate(CURRENCIES, start=1):
            yield f"{i}\t{code}\t{created}\t{created}"

    def department(self) -> Iterator[str]:
        created = stamp(0)
        for i, (name, location, manager) in enumerate(DEPARTMENTS, start=1):
            yield f"{i}\t{name}\t{location}\t{manager}\t{created}\t{created}"

    def design(self) -> Iterator[str]:
        rng = _rng(self.seed, "design")
        for i in range(1, DESIGNS + 1):
            created = stamp(rng.randrange(0, SPAN_MS // 4))
            name = rng.choice(_MATERIALS)
            suffix = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789") for _ in range(4))
            day = f"2022{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
            yield f"{i}\t{created}\t{name}\t{rng.choice(_FOLDERS)}\t{name.lower()}-{day}-{suffix}.json\t{created}"

    def payment_type(self) -> Iterator[str]:
        created = stamp(0)
        for i, name in enumerate(PAYMENT_TYPE_NAMES, start=1):
            yield f"{i}\t{name}\t{created}\t{created}"

    def counterparty(self) -> Iterator[str]:
        rng = _rng(self.seed, "counterparty")
        created = stamp(1601)
        for i in range(1, COUNTERPARTIES + 1):
            name = f"{rng.choice(_COMPANY)}" if i <= len(_COMPANY) else f"{rng.choice(_LAST)} {rng.choice(('Inc', 'LLC', 'Group'))}"
            yield "\t".join((str(i), name, str(rng.randint(1, ADDRESSES)),
                             f"{rng.choice(_FIRST)} {rng.choice(_LAST)}", f"{rng.choice(_FIRST)} {rng.choice(_LAST)}",
                             created, created))

    def staff(self) -> Iterator[str]:
        rng = _rng(self.seed, "staff")
        created = stamp(1601)
        for i in range(1, STAFF + 1):
            first, last = _FIRST[i - 1], rng.choice(_LAST)
            email = f"{first.lower()}.{last.lower()}@terrifictotes.com"
            yield f"{i}\t{first}\t{last}\t{rng.randint(1, len(DEPARTMENTS))}\t{email}\t{created}\t{created}"

    # ---- orders -----------------------------------------------------------------------------
    def _orders(self, kind: str) -> Iterator[tuple[Order, str]]:
        """Each order as (what its transaction needs, its COPY line), in creation order."""
        count = self.scale if kind == "SALE" else self.purchases
        rng = _rng(self.seed, kind)
        step = SPAN_MS / count
        for i in range(1, count + 1):
            # Creation times rise with the id, as in Totesys (a serial key stamped on insert).
            created_ms = 3000 + int((i - 1) * step + rng.random() * step)
            updated_ms = created_ms
            if rng.random() < AMENDED_FRACTION:
                updated_ms = min(created_ms + rng.randint(60_000, 5 * 86_400_000), SPAN_MS + 86_400_000)
            created, updated = stamp(created_ms), stamp(updated_ms)
            day = (START + timedelta(milliseconds=created_ms)).date()
            delivery = (day + timedelta(days=rng.randint(1, 7))).isoformat()
            payment = (day + timedelta(days=rng.randint(1, 7))).isoformat()
            staff, counterparty = rng.randint(1, STAFF), rng.randint(1, COUNTERPARTIES)
            currency, location = rng.randint(1, len(CURRENCIES)), rng.randint(1, ADDRESSES)
            if kind == "SALE":
                units, cents = rng.randint(1_000, 100_000), rng.randint(200, 400)
                design = rng.randint(1, DESIGNS)
                line = (f"{i}\t{created}\t{updated}\t{design}\t{staff}\t{counterparty}\t{units}\t"
                        f"{cents // 100}.{cents % 100:02d}\t{currency}\t{delivery}\t{payment}\t{location}")
            else:
                units, cents = rng.randint(1, 999), rng.randint(332, 99_907)
                code = "".join(rng.choice(_ALNUM) for _ in range(7))
                line = (f"{i}\t{created}\t{updated}\t{staff}\t{counterparty}\t{code}\t{units}\t"
                        f"{cents // 100}.{cents % 100:02d}\t{currency}\t{delivery}\t{payment}\t{location}")
            yield Order(kind, i, created_ms, counterparty, currency, units * cents, payment), line

    def sales_order(self) -> Iterator[str]:
        return (line for _, line in self._orders("SALE"))

    def purchase_order(self) -> Iterator[str]:
        return (line for _, line in self._orders("PURCHASE"))

    def _orders_by_time(self) -> Iterator[Order]:
        """Sales and purchase orders merged in creation order: one transaction each, in that order."""
        sales = (order for order, _ in self._orders("SALE"))
        purchases = (order for order, _ in self._orders("PURCHASE"))
        return heapq.merge(sales, purchases, key=lambda o: (o.created_ms, o.kind, o.order_id))

    def transaction(self) -> Iterator[str]:
        for transaction_id, order in enumerate(self._orders_by_time(), start=1):
            created = stamp(order.created_ms)
            sales_id, purchase_id = (order.order_id, "\\N") if order.kind == "SALE" else ("\\N", order.order_id)
            yield f"{transaction_id}\t{order.kind}\t{sales_id}\t{purchase_id}\t{created}\t{created}"

    def payment(self) -> Iterator[str]:
        rng = _rng(self.seed, "payment")
        for payment_id, order in enumerate(self._orders_by_time(), start=1):
            refund = rng.random() < REFUND_FRACTION
            type_id = (2 if refund else 1) if order.kind == "SALE" else (4 if refund else 3)
            paid = "t" if rng.random() < 0.85 else "f"
            created = stamp(order.created_ms)
            cents = order.amount_cents
            yield (f"{payment_id}\t{created}\t{created}\t{payment_id}\t{order.counterparty_id}\t"
                   f"{cents // 100}.{cents % 100:02d}\t{order.currency_id}\t{type_id}\t{paid}\t{order.payment_date}\t"
                   f"{rng.randint(10_000_000, 99_999_999)}\t{rng.randint(10_000_000, 99_999_999)}")

    def lines(self, table: str) -> Iterator[str]:
        """COPY lines (all columns, in the table's order) of `table`."""
        return iter(getattr(self, table)())

    def row_count(self, table: str) -> int:
        fixed = {"address": ADDRESSES, "currency": len(CURRENCIES), "department": len(DEPARTMENTS),
                 "design": DESIGNS, "payment_type": len(PAYMENT_TYPE_NAMES), "counterparty": COUNTERPARTIES,
                 "staff": STAFF, "sales_order": self.scale, "purchase_order": self.purchases}
        return fixed.get(table, self.scale + self.purchases)


