"""Realistic, deterministic Totesys data at any scale, as COPY lines per table.

Shapes follow the real sample in data/totesys: ~30 addresses, 20 counterparties, GBP/USD/EUR,
8 departments, ~500 designs, 20 staff, 4 payment types; N sales orders (units 1,000-100,000 at
2.00-4.00), 0.42 N purchase orders (1-999 items at 3.32-999.07), one transaction per order and one
payment per transaction, all spread over two years. Every table has its own random stream derived
from the seed and is streamed line by line, so memory stays flat whatever the scale.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import datetime, timedelta

import pycountry

from lambdas.shared.totesys import PAYMENT_TYPE_NAMES

START = datetime(2022, 11, 3, 14, 20, 49, 962000)
_START_MS_OF_DAY = ((START.hour * 60 + START.minute) * 60 + START.second) * 1000 + START.microsecond // 1000
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
_COMPANY = ("Fahey and Sons", "Leannon, Predovic and Morar", "Armstrong Inc", "Kohler Inc",
            "Frami, Yundt and Macejkovic", "Mraz LLC",
            "Padberg, Lueilwitz and Johnson", "Grant - Lakin", "Price LLC", "Bosco, Fadel and Rowe")
_MATERIALS = ("Wooden", "Bronze", "Steel", "Soft", "Granite", "Concrete", "Frozen", "Metal", "Plastic", "Cotton",
              "Rubber", "Fresh", "Granite", "Tasty", "Fantastic", "Rustic")
_FOLDERS = ("/usr", "/private", "/net", "/usr/libexec", "/usr/ports", "/etc", "/Library", "/media", "/usr/src")
_ALNUM = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"


def stamp(ms: int) -> str:
    """A timestamp(3) literal for `ms` milliseconds after START."""
    return (START + timedelta(milliseconds=ms)).isoformat(sep=" ", timespec="milliseconds")


class _DayCache:
    """Formats millisecond offsets as timestamp(3) and day strings, formatting each calendar day once."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def _day(self, day: int) -> str:
        text = self._days.get(day)
        if text is None:
            text = self._days[day] = (START.date() + timedelta(days=day)).isoformat()
        return text

    def stamp(self, ms: int) -> str:
        absolute = _START_MS_OF_DAY + ms
        day, rest = divmod(absolute, 86_400_000)
        seconds, millis = divmod(rest, 1000)
        hours, seconds = divmod(seconds, 3600)
        minutes, seconds = divmod(seconds, 60)
        return f"{self._day(day)} {hours:02d}:{minutes:02d}:{seconds:02d}.{millis:03d}"

    def later_day(self, ms: int, days: int) -> str:
        return self._day((_START_MS_OF_DAY + ms) // 86_400_000 + days)


def _rng(seed: int, table: str) -> random.Random:
    return random.Random(f"{seed}/{table}")


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
            name = _COMPANY[i - 1] if i <= len(_COMPANY) else f"{rng.choice(_LAST)} {rng.choice(('Inc', 'LLC'))}"
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
    def _orders(self, kind: str) -> Iterator[str]:
        """Each order's COPY line, in creation order (hot loop: kept to cheap arithmetic)."""
        count = self.scale if kind == "SALE" else self.purchases
        rng = _rng(self.seed, kind)
        rand = rng.random
        step = SPAN_MS / count
        days = _DayCache()
        for i in range(1, count + 1):
            # Creation times rise with the id, as in Totesys (a serial key stamped on insert).
            created_ms = 3000 + int((i - 1 + rand()) * step)
            updated_ms = created_ms
            if rand() < AMENDED_FRACTION:
                updated_ms = created_ms + 60_000 + int(rand() * 5 * 86_400_000)
            created, updated = days.stamp(created_ms), days.stamp(updated_ms)
            delivery = days.later_day(created_ms, 1 + int(rand() * 7))
            payment = days.later_day(created_ms, 1 + int(rand() * 7))
            staff, counterparty = 1 + int(rand() * STAFF), 1 + int(rand() * COUNTERPARTIES)
            currency, location = 1 + int(rand() * len(CURRENCIES)), 1 + int(rand() * ADDRESSES)
            if kind == "SALE":
                units, cents = 1_000 + int(rand() * 99_001), 200 + int(rand() * 201)
                design = 1 + int(rand() * DESIGNS)
                yield (f"{i}\t{created}\t{updated}\t{design}\t{staff}\t{counterparty}\t{units}\t"
                       f"{cents // 100}.{cents % 100:02d}\t{currency}\t{delivery}\t{payment}\t{location}")
            else:
                units, cents = 1 + int(rand() * 999), 332 + int(rand() * 99_576)
                code = "".join(rng.choices(_ALNUM, k=7))
                yield (f"{i}\t{created}\t{updated}\t{staff}\t{counterparty}\t{code}\t{units}\t"
                       f"{cents // 100}.{cents % 100:02d}\t{currency}\t{delivery}\t{payment}\t{location}")

    def sales_order(self) -> Iterator[str]:
        return self._orders("SALE")

    def purchase_order(self) -> Iterator[str]:
        return self._orders("PURCHASE")

    # Transactions and payments are derived from the orders inside PostgreSQL (see load.py): one
    # set-based statement each is far faster than generating and sending them from Python.
    GENERATED_TABLES = ("address", "currency", "department", "design", "payment_type", "counterparty", "staff",
                        "sales_order", "purchase_order")

    def lines(self, table: str) -> Iterator[str]:
        """COPY lines (all columns, in the table's order) of one of GENERATED_TABLES."""
        if table not in self.GENERATED_TABLES:
            raise ValueError(f"{table} is derived from the orders, not generated line by line")
        return iter(getattr(self, table)())
