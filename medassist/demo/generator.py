"""The demo clinic network's patients, as plain values: identical on every machine and run.

Everything random comes from `random.Random` seeded with SEED and, per patient, from a generator
seeded with a string derived from it (Python seeds from a string through SHA-512, independent of
PYTHONHASHSEED), and Faker (pinned) re-seeded from that generator for each patient. Nothing
depends on set or dict order. Dates are relative to `today` on purpose: a 4-month-old is four
months old on the day the demo is built, and visits fall in the three years before it.

The specs carry model field names, so that `seed.py` turns them into rows with no mapping.
"""

import datetime as dt
import hashlib
import json
import random
import unicodedata
import uuid
import zoneinfo
from dataclasses import asdict, dataclass, field
from functools import cache

from django.conf import settings
from faker import Faker

from medassist.demo import catalog as c
from medassist.patients.models import Ethnicity, GenderIdentity, Race

SEED = 20_250_611
PATIENTS_PER_CLINIC = 240
VISIT_YEARS = 3
MAX_PAST_VISITS = 15

# ---------------------------------------------------------------------------------------------
# Specs


@dataclass
class ContactSpec:
    name: str
    relationship: str
    phone: str
    is_emergency: bool = True


@dataclass
class CoverageSpec:
    public_id: uuid.UUID
    order: int
    payer_name: str
    payer_id: str
    plan_name: str
    member_id: str
    group_number: str
    subscriber_name: str
    subscriber_relationship: str
    start_date: dt.date | None


@dataclass
class AllergySpec:
    public_id: uuid.UUID
    substance: str
    code_system: str
    code: str
    category: str
    reaction: str
    criticality: str
    verification: str
    active: bool
    created_at: dt.datetime


@dataclass
class MedicationSpec:
    public_id: uuid.UUID
    name: str
    rxnorm: str
    dose: str
    route: str
    frequency: str
    active: bool
    start_date: dt.date | None


@dataclass
class ConditionSpec:
    public_id: uuid.UUID
    category: str
    description: str
    icd10: str
    snomed: str
    relative: str
    onset_date: dt.date | None
    active: bool


@dataclass
class EncounterSpec:
    public_id: uuid.UUID
    provider: str  # username
    medical_assistant: str  # username, "" when not yet roomed
    stage: str  # encounters.stages.Stage
    kind: str
    visit_type: str
    reason: str
    period_start: dt.datetime
    period_end: dt.datetime | None


@dataclass
class PatientSpec:
    clinic: str  # clinic code
    ordinal: int  # place in its clinic's list
    public_id: uuid.UUID
    mrn_offset: int  # MRN = the network's next MRN + this
    family: str
    given: str
    middle: str
    suffix: str
    preferred_name: str
    birth_date: dt.date
    sex: str
    birth_sex: str
    gender_identity: str
    race: list[str]
    ethnicity: str
    preferred_language: str
    interpreter_needed: bool
    phone: str
    email: str
    address_line: str
    address_line2: str
    city: str
    state: str
    postal_code: str
    created_at: dt.datetime
    contacts: list[ContactSpec] = field(default_factory=list)
    coverages: list[CoverageSpec] = field(default_factory=list)
    allergies: list[AllergySpec] = field(default_factory=list)
    medications: list[MedicationSpec] = field(default_factory=list)
    conditions: list[ConditionSpec] = field(default_factory=list)
    encounters: list[EncounterSpec] = field(default_factory=list)

    def age_days(self, today: dt.date) -> int:
        return (today - self.birth_date).days


# ---------------------------------------------------------------------------------------------
# Clinics


@dataclass(frozen=True)
class ClinicPlan:
    code: str
    provider: str
    medical_assistant: str
    # (from age in days, to age in days, weight): how the clinic's patients spread over ages
    ages: tuple[tuple[int, int, int], ...]
    planned_today: int


def _years(n: float) -> int:
    return int(n * 365.25)


CLINICS = (
    ClinicPlan(
        "north",
        "bob",
        "alice",
        (
            (0, 28, 3),
            (28, 365, 8),
            (_years(1), _years(5), 14),
            (_years(5), _years(13), 22),
            (_years(13), _years(18), 15),
            (_years(18), _years(40), 55),
            (_years(40), _years(65), 65),
            (_years(65), _years(80), 38),
            (_years(80), _years(95), 14),
            (_years(95), _years(103), 3),
        ),
        planned_today=9,
    ),
    ClinicPlan(
        "south",
        "frank",
        "carol",
        (
            (0, 28, 6),
            (28, 365, 20),
            (_years(1), _years(5), 40),
            (_years(5), _years(13), 50),
            (_years(13), _years(18), 35),
            (_years(18), _years(40), 40),
            (_years(40), _years(65), 30),
            (_years(65), _years(80), 12),
            (_years(80), _years(95), 5),
            (_years(95), _years(103), 2),
        ),
        planned_today=8,
    ),
)

# ---------------------------------------------------------------------------------------------
# Backgrounds: where a family's names come from, the languages it speaks, how it describes its
# race and ethnicity (OMB categories, self-reported, so sometimes declined).


@dataclass(frozen=True)
class Background:
    key: str
    weight: int
    locale: str  # Faker locale for names, "" when the names come from the lists below
    languages: tuple[tuple[str, float], ...]  # (BCP-47, share) besides English
    race: tuple[tuple[tuple[str, ...], int], ...]
    hispanic: float = 0.0


_W, _B, _A = Race.WHITE.value, Race.BLACK.value, Race.ASIAN.value
_AI, _ASKU, _UNK = Race.AMERICAN_INDIAN.value, Race.ASKED_DECLINED.value, Race.UNKNOWN.value

BACKGROUNDS = (
    Background(
        "us",
        52,
        "en_US",
        (),
        (((_W,), 72), ((_B,), 20), ((_W, _B), 2), ((_AI,), 1), ((_W, _AI), 1), ((_ASKU,), 4)),
        0.03,
    ),
    Background(
        "hispanic",
        13,
        "es_MX",
        (("es", 0.45),),
        (((_W,), 45), ((_UNK,), 30), ((_ASKU,), 12), ((_AI,), 6), ((_B,), 4), ((_W, _AI), 3)),
        1.0,
    ),
    Background("irish", 4, "en_IE", (), (((_W,), 95), ((_ASKU,), 5))),
    Background("german", 4, "de_DE", (("de", 0.03),), (((_W,), 96), ((_ASKU,), 4))),
    Background("polish", 2, "pl_PL", (), (((_W,), 96), ((_ASKU,), 4))),
    Background("italian", 2, "it_IT", (), (((_W,), 96), ((_ASKU,), 4))),
    Background("nigerian", 3, "yo_NG", (), (((_B,), 96), ((_ASKU,), 4))),
    Background("indian", 3, "en_IN", (("hi", 0.12),), (((_A,), 95), ((_ASKU,), 5))),
    Background("chinese", 2, "zh_CN", (("zh", 0.35),), (((_A,), 95), ((_ASKU,), 5))),
    Background("vietnamese", 2, "", (("vi", 0.4),), (((_A,), 97), ((_ASKU,), 3))),
    Background("filipino", 2, "", (("tl", 0.15),), (((_A,), 90), ((_A, _W), 5), ((_ASKU,), 5))),
    Background("korean", 1, "", (("ko", 0.35),), (((_A,), 97), ((_ASKU,), 3))),
    Background("arab", 2, "", (("ar", 0.4),), (((_W,), 80), ((_ASKU,), 15), ((_UNK,), 5))),
    Background("somali", 1, "", (("so", 0.55),), (((_B,), 97), ((_ASKU,), 3))),
    Background("haitian", 1, "", (("ht", 0.45), ("fr", 0.1)), (((_B,), 97), ((_ASKU,), 3))),
    Background("russian", 1, "", (("ru", 0.45),), (((_W,), 95), ((_ASKU,), 5))),
)
BACKGROUND_BY_KEY = {b.key: b for b in BACKGROUNDS}

# Romanized names as US registration desks write them (no Faker locale writes them in Latin).
# fmt: off
NAME_LISTS: dict[str, dict[str, tuple[str, ...]]] = {
    "vietnamese": {
        "family": (
            "Nguyen", "Tran", "Le", "Pham", "Hoang", "Huynh", "Phan", "Vu", "Vo", "Dang", "Bui",
            "Do", "Ho", "Ngo", "Duong", "Ly",
        ),
        "female": (
            "Lan", "Mai", "Linh", "Thao", "Huong", "Ngoc", "Trang", "Hanh", "Thuy", "Anh", "Phuong",
            "Hoa", "Vy", "Nhung",
        ),
        "male": (
            "Minh", "Tuan", "Duc", "Hung", "Quang", "Long", "Nam", "Thanh", "Huy", "Khoa", "Bao",
            "Vinh", "Phuc", "Dung",
        ),
        "middle_female": (
            "Thi",
        ),
        "middle_male": (
            "Van", "Duc", "Minh", "Quoc",
        ),
    },
    "filipino": {
        "family": (
            "Santos", "Reyes", "Cruz", "Bautista", "Garcia", "Mendoza", "Dela Cruz", "Ramos",
            "Aquino", "Villanueva", "Castillo", "Fernandez", "Gonzales", "Soriano", "Manalo",
            "Pascual", "Macaraeg", "Dizon",
        ),
        "female": (
            "Maricel", "Rowena", "Jocelyn", "Maria Cristina", "Rosalie", "Liezl", "Angelica",
            "Kristine", "Mary Grace", "Analyn",
        ),
        "male": (
            "Jerome", "Arnel", "Rodel", "Jose", "Mark Anthony", "Romeo", "Reynaldo", "Ferdinand",
            "Jun", "Paolo",
        ),
    },
    "korean": {
        "family": (
            "Kim", "Lee", "Park", "Choi", "Jung", "Kang", "Cho", "Yoon", "Jang", "Lim", "Han",
            "Shin",
        ),
        "female": (
            "Seo-yeon", "Ha-eun", "Soo-jin", "Ji-woo", "Eun-ji", "Young-hee", "Min-seo", "Hye-jin",
        ),
        "male": (
            "Min-jun", "Ji-ho", "Jae-won", "Hyun-woo", "Dong-hyun", "Sung-min", "Seung-ho",
            "Tae-yang",
        ),
    },
    "arab": {
        "family": (
            "Haddad", "Khalil", "Mansour", "Saleh", "Hassan", "Ibrahim", "Abdullah", "Nasser",
            "Farah", "Aziz", "Hamdan", "Al-Sayed", "El-Amin", "Qasim",
        ),
        "female": (
            "Fatima", "Aisha", "Layla", "Mariam", "Noor", "Yasmin", "Zainab", "Huda", "Rania",
            "Salma",
        ),
        "male": (
            "Mohammed", "Ahmed", "Omar", "Ali", "Yusuf", "Khalid", "Hassan", "Ibrahim", "Tariq",
            "Samir",
        ),
    },
    "somali": {
        "family": (
            "Mohamed", "Ali", "Hassan", "Abdi", "Farah", "Warsame", "Osman", "Hussein", "Jama",
            "Aden", "Abdullahi", "Yusuf",
        ),
        "female": (
            "Hodan", "Fadumo", "Amina", "Sahra", "Ifrah", "Hibaq", "Ayaan", "Nimco",
        ),
        "male": (
            "Abdirahman", "Abdullahi", "Mohamed", "Liban", "Bashir", "Abdikarim", "Hamza", "Said",
        ),
    },
    "haitian": {
        "family": (
            "Jean-Baptiste", "Pierre", "Joseph", "Louis", "Charles", "Desir", "Celestin", "Dorvil",
            "Francois", "Saint-Fleur", "Etienne", "Augustin", "Noel", "Toussaint",
        ),
        "female": (
            "Marie", "Fabiola", "Widline", "Nadege", "Roseline", "Guerline", "Mirlande", "Jeanne",
        ),
        "male": (
            "Jean", "Mackenson", "Wilner", "Jean-Claude", "Ricardo", "Frantz", "Stanley", "Wilson",
        ),
    },
    "russian": {
        # masculine/feminine forms of the family name
        "family": (
            "Ivanov/Ivanova", "Petrov/Petrova", "Smirnov/Smirnova", "Kuznetsov/Kuznetsova",
            "Popov/Popova", "Sokolov/Sokolova", "Volkov/Volkova", "Morozov/Morozova",
            "Kovalenko/Kovalenko", "Shevchenko/Shevchenko", "Bondarenko/Bondarenko",
        ),
        "female": (
            "Olga", "Natalia", "Irina", "Svetlana", "Tatiana", "Yelena", "Anna", "Galina",
            "Lyudmila", "Oksana",
        ),
        "male": (
            "Sergei", "Dmitri", "Alexei", "Andrei", "Vladimir", "Igor", "Nikolai", "Yuri",
            "Mikhail", "Oleksandr",
        ),
    },
}
# fmt: on

NICKNAMES = {
    "William": "Bill",
    "Robert": "Bob",
    "Elizabeth": "Liz",
    "Katherine": "Kate",
    "James": "Jim",
    "Margaret": "Peggy",
    "Richard": "Rick",
    "Josephine": "Jo",
    "Michael": "Mike",
    "Jennifer": "Jen",
    "Christopher": "Chris",
    "Patricia": "Patty",
    "Thomas": "Tom",
    "Alexander": "Alex",
    "Rebecca": "Becky",
    "Daniel": "Danny",
    "Samantha": "Sam",
    "Nicholas": "Nick",
    "Deborah": "Debbie",
    "Jonathan": "Jon",
}


@cache
def _faker(locale: str) -> Faker:
    return Faker(locale)


# ---------------------------------------------------------------------------------------------
# Featured patients: the ones a demo script talks about. Everything not given is generated.

FEATURED: tuple[dict, ...] = (
    {
        "clinic": "north",
        "given": "Josephine",
        "family": "Abernathy",
        "middle": "Louise",
        "preferred_name": "Jo",
        "sex": "female",
        "age_days": _years(68) + 131,
        "background": "us",
        "race": [_W],
        "problems": ("htn", "t2dm", "hld"),
        "allergies": (("Penicillin", "hives"),),
        "planned_today": "Blood pressure follow-up",
    },
    {
        "clinic": "north",
        "given": "Lan",
        "family": "Nguyen",
        "middle": "Thi",
        "sex": "female",
        "age_days": _years(97) + 40,
        "background": "vietnamese",
        "language": "vi",
        "interpreter": True,
        "problems": ("htn", "afib", "osteoporosis"),
        "allergies": (),
        "planned_today": "Medication review",
    },
    {
        "clinic": "north",
        "given": "Mateo",
        "family": "Hernández",
        "sex": "male",
        "age_days": 5,
        "background": "hispanic",
        "language": "es",
        "interpreter": True,
        "race": [_W],
        "problems": ("jaundice",),
        "allergies": None,
        "planned_today": "3-5 day newborn visit",
    },
    {
        "clinic": "north",
        "given": "Amara",
        "family": "Bello",
        "sex": "female",
        "age_days": 122 + 3,
        "background": "nigerian",
        "language": "en",
        "problems": ("eczema",),
        "allergies": (),
        "planned_today": "4 month well-child visit",
    },
    {
        "clinic": "north",
        "given": "Jonathan",
        "family": "Smith",
        "middle": "Edward",
        "sex": "male",
        "age_days": _years(44) + 200,
        "background": "us",
        "problems": ("asthma_mild",),
    },
    {
        "clinic": "north",
        "given": "Maria",
        "family": "Garcia",
        "sex": "female",
        "age_days": _years(41) + 60,
        "background": "hispanic",
        "language": "es",
        "interpreter": False,
        "problems": ("hypothyroid",),
    },
    {
        "clinic": "north",
        "given": "Maria",
        "family": "Garcia",
        "middle": "Elena",
        "sex": "female",
        "age_days": _years(33) + 10,
        "background": "hispanic",
        "language": "en",
        "problems": (),
    },
    {
        "clinic": "north",
        "given": "Daniel",
        "family": "Kowalski",
        "sex": "male",
        "age_days": _years(52) + 77,
        "background": "polish",
        "language": "ase",
        "interpreter": True,
        "problems": ("htn",),
    },
    {
        "clinic": "south",
        "given": "Olivia",
        "family": "Thompson",
        "sex": "female",
        "age_days": 2,
        "background": "us",
        "race": [_B],
        "problems": (),
        "allergies": None,
        "planned_today": "3-5 day newborn visit",
    },
    {
        "clinic": "south",
        "given": "Liam",
        "family": "Pham",
        "sex": "male",
        "age_days": 122 + 9,
        "background": "vietnamese",
        "language": "vi",
        "interpreter": True,
        "problems": (),
        "planned_today": "4 month well-child visit",
    },
    {
        "clinic": "south",
        "given": "Sophia",
        "family": "Reyes",
        "sex": "female",
        "age_days": _years(9) + 80,
        "background": "filipino",
        "problems": ("asthma_persistent", "rhinitis"),
        "allergies": (("Peanut", "anaphylaxis"),),
        "planned_today": "Asthma follow-up",
    },
)

# How many write a middle name at registration (the lists above carry their own).
MIDDLE_NAME_SHARE = {"us": 0.55, "irish": 0.55, "german": 0.55, "italian": 0.55, "polish": 0.55}
MIDDLE_NAME_SHARE |= {"hispanic": 0.3}
WOMEN = ("mother", "sister", "maternal grandmother", "paternal grandmother")
CLOSED = {(1, 1), (7, 4), (12, 25)}  # New Year's Day, Independence Day, Christmas
_RANDOM = object()  # "make it up", where None means "none"
JAUNDICE = ("Neonatal jaundice, unspecified", "P59.9", "")


# ---------------------------------------------------------------------------------------------
# Small helpers (each takes the patient's own generator)


def _uuid(rng: random.Random) -> uuid.UUID:
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def _weighted(rng: random.Random, pairs):  # type: ignore[no-untyped-def]
    items = [p[0] for p in pairs]
    weights = [p[-1] for p in pairs]
    return rng.choices(items, weights=weights)[0]


def _chance_at(steps: tuple[tuple[float, float], ...], age_years: float) -> float:
    chance = 0.0
    for start, value in steps:
        if age_years >= start:
            chance = value
    return chance


def _between(rng: random.Random, start: dt.date, end: dt.date) -> dt.date:
    """A day in [start, end] (end >= start)."""
    return start + dt.timedelta(days=rng.randint(0, max(0, (end - start).days)))


def _phone(rng: random.Random) -> str:
    area = _weighted(rng, c.AREA_CODES)
    # The 555 exchange is kept out of service for fiction; 555-1212 is directory assistance.
    line = rng.randrange(100, 10_000)
    line += line == 1212
    return f"({area}) 555-{line:04d}" if rng.random() < 0.2 else f"{area}-555-{line:04d}"


def _ascii(text: str) -> str:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(ch for ch in plain.lower() if ch.isalnum())


def _apportion(total: int, weights: list[int]) -> list[int]:
    """Split `total` in proportion to `weights` (largest remainder; ties by position)."""
    whole = sum(weights)
    exact = [total * w / whole for w in weights]
    counts = [int(x) for x in exact]
    order = sorted(range(len(weights)), key=lambda i: (-(exact[i] - counts[i]), i))
    for i in order[: total - sum(counts)]:
        counts[i] += 1
    return counts


# ---------------------------------------------------------------------------------------------
# The generator


@dataclass
class _Person:
    given: str
    middle: str
    family: str
    sex: str


class DemoGenerator:
    def __init__(self, *, today: dt.date, seed: int = SEED, tz: dt.tzinfo | None = None):
        self.today = today
        self.seed = seed
        self.tz = tz or zoneinfo.ZoneInfo(settings.TIME_ZONE)  # the clinics' own time zone

    # -- names ------------------------------------------------------------------------------

    def person(self, rng: random.Random, bg: Background, sex: str, family: str = "") -> _Person:
        female = sex == "female"
        if bg.locale:
            fake = _faker(bg.locale)
            fake.seed_instance(rng.getrandbits(48))
            if bg.locale == "zh_CN":
                given, last = fake.first_romanized_name(), fake.last_romanized_name()
            else:
                given = fake.first_name_female() if female else fake.first_name_male()
                last = fake.last_name()
            middle = ""
            if rng.random() < MIDDLE_NAME_SHARE.get(bg.key, 0.0):
                middle = fake.first_name_female() if female else fake.first_name_male()
        else:
            names = NAME_LISTS[bg.key]
            given = rng.choice(names["female" if female else "male"])
            if bg.key == "filipino" and rng.random() < 0.5:
                fake = _faker("en_US")
                fake.seed_instance(rng.getrandbits(48))
                given = fake.first_name_female() if female else fake.first_name_male()
            last = rng.choice(names["family"])
            middle_list = names.get("middle_female" if female else "middle_male", ())
            middle = rng.choice(middle_list) if middle_list and rng.random() < 0.8 else ""
        if family:
            last = family
        if bg.key == "russian":
            masculine, _, feminine = last.partition("/")
            if feminine:
                last = feminine if female else masculine
        return _Person(given=given, middle=middle, family=last, sex=sex)

    # -- one patient ------------------------------------------------------------------------

    def patient(
        self,
        clinic: ClinicPlan,
        ordinal: int,
        age_days: int,
        featured: dict | None = None,
        slot: int | None = None,
    ) -> PatientSpec:
        rng = random.Random(f"{self.seed}:{clinic.code}:{ordinal}")
        f = featured or {}
        today = self.today
        bg = BACKGROUND_BY_KEY[
            f.get("background") or _weighted(rng, [(b.key, b.weight) for b in BACKGROUNDS])
        ]
        sex = f.get("sex") or ("female" if rng.random() < 0.51 else "male")
        birth = today - dt.timedelta(days=age_days)
        age = age_days / 365.25

        me = self.person(rng, bg, sex)
        if bg.key == "hispanic" and rng.random() < 0.25:  # both surnames, as written at home
            me.family = f"{me.family} {self.person(rng, bg, 'female').family}"
        me.given = f.get("given", me.given)
        me.family = f.get("family", me.family)
        me.middle = f.get("middle", me.middle if "given" not in f else "")

        # languages: immigrants' elders keep the home language more often than their children
        language, interpreter = "en", False
        for code, share in bg.languages:
            boost = 1.3 if age >= 60 else (0.8 if 5 <= age < 18 else 1.0)
            if rng.random() < share * boost:
                language = code
                interpreter = rng.random() < (0.85 if age >= 60 or age < 5 else 0.5)
                break
        if language == "en" and rng.random() < 0.004:  # Deaf, American Sign Language
            language, interpreter = "ase", True
        language = f.get("language", language)
        interpreter = f.get("interpreter", interpreter if language != "en" else False)

        race = list(f.get("race") or _weighted(rng, bg.race))
        if bg.hispanic >= 1 or rng.random() < bg.hispanic:
            ethnicity = Ethnicity.HISPANIC.value
        else:
            ethnicity = Ethnicity.NOT_HISPANIC.value
        if rng.random() < 0.04:
            ethnicity = _weighted(
                rng, ((Ethnicity.ASKED_DECLINED.value, 1), (Ethnicity.UNKNOWN.value, 1))
            )

        birth_sex = {"female": "F", "male": "M"}[sex] if rng.random() < 0.97 else ""
        gender_identity = ""
        if age >= 13 and rng.random() < 0.8:
            roll = rng.random()
            if roll < 0.015:
                gender_identity = GenderIdentity.NONBINARY.value
            elif roll < 0.05:
                gender_identity = GenderIdentity.ASKED_DECLINED.value
            else:
                gender_identity = (
                    GenderIdentity.FEMALE.value if sex == "female" else GenderIdentity.MALE.value
                )

        suffix = ""
        if bg.key == "us" and sex == "male" and "given" not in f and rng.random() < 0.05:
            suffix = rng.choice(("Jr.", "Sr.", "III"))
        preferred = f.get("preferred_name", "")
        if not preferred and me.given in NICKNAMES and age >= 12 and rng.random() < 0.4:
            preferred = NICKNAMES[me.given]

        city, postal = _weighted(rng, [((p[0], p[1]), p[2]) for p in c.PLACES])
        address = f"{rng.randint(100, 4999)} {rng.choice(c.STREETS)}"
        address2 = f"Apt {rng.randint(1, 4)}{rng.choice('ABCD')}" if rng.random() < 0.15 else ""
        phone = _phone(rng) if rng.random() < 0.98 or age < 18 else ""
        email = ""
        if 18 <= age < 85 and rng.random() < 0.55:
            domain = rng.choice(("example.com", "example.net", "example.org"))
            email = f"{_ascii(me.given)}.{_ascii(me.family)}{rng.randint(1, 99)}@{domain}"

        spec = PatientSpec(
            clinic=clinic.code,
            ordinal=ordinal,
            public_id=_uuid(rng),
            mrn_offset=0,
            family=me.family,
            given=me.given,
            middle=me.middle,
            suffix=suffix,
            preferred_name=preferred,
            birth_date=birth,
            sex=sex,
            birth_sex=birth_sex,
            gender_identity=gender_identity,
            race=race,
            ethnicity=ethnicity,
            preferred_language=language,
            interpreter_needed=interpreter,
            phone=phone,
            email=email,
            address_line=address,
            address_line2=address2,
            city=city,
            state="IL",
            postal_code=postal,
            created_at=dt.datetime.combine(birth, dt.time(12), tzinfo=self.tz),  # set below
        )
        self._contacts(rng, spec, bg, me)
        self._problems(rng, spec, f.get("problems"))
        self._history(rng, spec)
        self._allergies(rng, spec, f.get("allergies", _RANDOM))
        self._coverages(rng, spec)
        self._encounters(rng, spec, clinic, f.get("planned_today"), slot)
        return spec

    # -- household ---------------------------------------------------------------------------

    def _contacts(self, rng: random.Random, p: PatientSpec, bg: Background, me: _Person) -> None:
        age = p.age_days(self.today) / 365.25
        if age < 18:
            mother = self.person(rng, bg, "female", family=p.family if rng.random() < 0.75 else "")
            p.contacts.append(ContactSpec(f"{mother.given} {mother.family}", "mother", p.phone))
            if rng.random() < 0.6:
                father = self.person(rng, bg, "male", family=p.family)
                p.contacts.append(
                    ContactSpec(f"{father.given} {father.family}", "father", _phone(rng))
                )
            elif rng.random() < 0.15:
                grandma = self.person(rng, bg, "female")
                p.contacts.append(
                    ContactSpec(f"{grandma.given} {grandma.family}", "grandmother", _phone(rng))
                )
            return
        if rng.random() < 0.1:
            return  # none given
        if age >= 65:
            relationship = _weighted(
                rng, (("spouse", 4), ("daughter", 4), ("son", 3), ("niece", 1))
            )
        else:
            relationship = _weighted(
                rng, (("spouse", 6), ("mother", 2), ("sister", 1), ("brother", 1), ("friend", 1))
            )
        sex = {
            "daughter": "female",
            "son": "male",
            "mother": "female",
            "sister": "female",
            "brother": "male",
            "niece": "female",
        }.get(relationship)
        if sex is None:
            sex = "male" if me.sex == "female" and rng.random() < 0.9 else "female"
        keep_name = relationship in {"spouse", "son", "brother"} or rng.random() < 0.5
        other = self.person(rng, bg, sex, family=p.family if keep_name else "")
        p.contacts.append(ContactSpec(f"{other.given} {other.family}", relationship, _phone(rng)))

    # -- problems, medications, history -----------------------------------------------------

    def _onset(self, rng: random.Random, p: PatientSpec, from_age: float) -> dt.date:
        earliest = p.birth_date + dt.timedelta(days=int(max(from_age, 0) * 365.25))
        earliest = max(earliest, self.today - dt.timedelta(days=_years(25)), p.birth_date)
        return _between(rng, min(earliest, self.today), self.today)

    def _problems(self, rng: random.Random, p: PatientSpec, forced: tuple[str, ...] | None) -> None:
        age = p.age_days(self.today) / 365.25
        chosen: list[c.Problem] = []
        if forced is not None:
            chosen = [c.PROBLEM_BY_KEY[k] for k in forced if k in c.PROBLEM_BY_KEY]
        else:
            for problem in c.PROBLEMS:
                if problem.sex and problem.sex != p.sex:
                    continue
                if age >= problem.until:
                    continue
                if rng.random() < _chance_at(problem.chance, age):
                    chosen.append(problem)
            # one asthma entry at most, the more severe one
            if any(x.key == "asthma_persistent" for x in chosen):
                chosen = [x for x in chosen if x.key != "asthma_mild"]
            if any(x.key == "t1dm" for x in chosen):
                chosen = [x for x in chosen if x.key != "t2dm"]
        taken: list[str] = []
        for problem in chosen:
            onset = self._onset(rng, p, problem.chance[0][0] if problem.chance else 0)
            p.conditions.append(
                _condition(
                    rng, "problem-list-item", problem.description, problem.icd10, problem.snomed,
                    onset=onset,
                )
            )  # fmt: skip
            if not problem.regimens:
                continue
            regimen = rng.choice(problem.regimens)
            for med in regimen:
                if age < 2 and med is c.TRIAMCINOLONE:
                    med = c.HYDROCORTISONE  # a low-potency steroid for an infant's skin
                if med.rxnorm in taken:
                    continue
                taken.append(med.rxnorm)
                start = min(onset + dt.timedelta(days=rng.randint(0, 60)), self.today)
                dose, name = med.dose, med.name
                if age < 12 and med.rxnorm == c.CETIRIZINE.rxnorm:
                    name, dose = "Cetirizine 1 mg/mL oral solution", "5 mg"
                p.medications.append(
                    MedicationSpec(
                        _uuid(rng), name, med.rxnorm, dose, med.route, med.frequency, True, start
                    )
                )
                # a statin started on simvastatin, changed later: the old entry stays, inactive
                if med.rxnorm == c.ATORVASTATIN.rxnorm and rng.random() < 0.2:
                    s = c.SIMVASTATIN
                    p.medications.append(
                        MedicationSpec(
                            _uuid(rng), s.name, s.rxnorm, s.dose, s.route, s.frequency,
                            active=False, start_date=start - dt.timedelta(days=400),
                        )
                    )  # fmt: skip
        newborn = p.age_days(self.today) < 14
        if (forced is not None and "jaundice" in forced) or (
            forced is None and newborn and rng.random() < 0.4
        ):
            desc, icd, snomed = JAUNDICE
            onset = p.birth_date + dt.timedelta(days=min(2, p.age_days(self.today)))
            p.conditions.append(
                _condition(rng, "problem-list-item", desc, icd, snomed, onset=onset)
            )

    def _history(self, rng: random.Random, p: PatientSpec) -> None:
        age = p.age_days(self.today) / 365.25
        for description, icd10, lo, hi in c.RESOLVED:
            if lo <= age and rng.random() < 0.07:
                onset = self._onset(rng, p, lo)
                if (onset - p.birth_date).days / 365.25 > hi:
                    continue
                if rng.random() < 0.5:
                    p.conditions.append(
                        _condition(rng, "medical-history", description, icd10, onset=onset)
                    )
                else:  # a resolved problem: on the list, inactive
                    p.conditions.append(
                        _condition(
                            rng, "problem-list-item", description, icd10, onset=onset, active=False
                        )
                    )
        for description, snomed, icd10, from_age, chance, sex in c.SURGERIES:
            if age >= from_age and (not sex or sex == p.sex) and rng.random() < chance:
                onset = self._onset(rng, p, from_age)
                p.conditions.append(
                    _condition(rng, "surgical-history", description, icd10, snomed, onset=onset)
                )
        if age >= 2 and rng.random() < 0.65:
            for description, icd10, chance in c.FAMILY_HISTORY:
                if rng.random() < chance:
                    relative = rng.choice(c.RELATIVES)
                    if description == "Prostate cancer" and relative in WOMEN:
                        relative = "father"
                    if description == "Breast cancer" and rng.random() < 0.9:
                        relative = rng.choice(WOMEN)
                    p.conditions.append(
                        _condition(rng, "family-history", description, icd10, relative=relative)
                    )

    def _allergies(self, rng: random.Random, p: PatientSpec, forced: object) -> None:
        """Three states the banner must tell apart: allergies, no known allergies (an answer
        recorded), and nothing recorded (never asked). `forced`: None for never asked, () for
        no known allergies, ((substance, reaction), ...), or _RANDOM."""
        age_days = p.age_days(self.today)
        recorded_at = dt.datetime.combine(
            _between(
                rng,
                max(p.birth_date, self.today - dt.timedelta(days=_years(VISIT_YEARS))),
                self.today,
            ),
            dt.time(9, 30),
            tzinfo=self.tz,
        )
        kinds = {k.substance: k for k in c.ALLERGY_KINDS}
        chosen: list[tuple[c.AllergyKind, str, str]] = []
        if forced is not _RANDOM:
            if forced is None:
                return  # never asked
            for substance, reaction in forced:  # type: ignore[attr-defined]
                kind = kinds[substance]
                crit = dict(kind.reactions).get(reaction, "low")
                chosen.append((kind, reaction, crit))
        else:
            roll = rng.random()
            never_asked = 0.45 if age_days < 60 else 0.2
            if roll < never_asked:
                return
            if roll < never_asked + 0.5 or age_days < 180:
                chosen = []
            else:
                taken = {m.rxnorm for m in p.medications}
                pool = [
                    k
                    for k in c.ALLERGY_KINDS
                    if (k.children or age_days >= _years(18)) and k.rxnorm_ingredient not in taken
                ]
                for kind in rng.sample(pool, _weighted(rng, ((1, 70), (2, 22), (3, 8)))):
                    reaction, crit = rng.choice(kind.reactions)
                    chosen.append((kind, reaction, crit))
        if not chosen:
            p.allergies.append(
                AllergySpec(
                    _uuid(rng),
                    "No known allergies",
                    c.SNOMED,
                    _nka_code(),
                    "",
                    "",
                    "",
                    "confirmed",
                    True,
                    recorded_at,
                )
            )
            return
        for kind, reaction, crit in chosen:
            verification = "confirmed" if rng.random() < 0.75 else "unconfirmed"
            p.allergies.append(
                AllergySpec(
                    _uuid(rng),
                    kind.substance,
                    kind.code_system,
                    kind.code,
                    kind.category,
                    reaction,
                    crit,
                    verification,
                    True,
                    recorded_at,
                )
            )
        # Now and then a penicillin allergy was tested and found not to be one: kept, refuted.
        refutable = all(k.substance != "Penicillin" for k, _, _ in chosen)
        if forced is _RANDOM and refutable and age_days > _years(18) and rng.random() < 0.05:
            kind = kinds["Penicillin"]
            p.allergies.append(
                AllergySpec(
                    _uuid(rng),
                    kind.substance,
                    kind.code_system,
                    kind.code,
                    kind.category,
                    "rash in childhood",
                    "low",
                    "refuted",
                    True,
                    recorded_at,
                )
            )

    # -- insurance --------------------------------------------------------------------------

    def _coverages(self, rng: random.Random, p: PatientSpec) -> None:
        age = p.age_days(self.today) / 365.25
        adult_contact = next(
            (x for x in p.contacts if x.relationship in {"mother", "father"}), None
        )
        spouse = next((x for x in p.contacts if x.relationship == "spouse"), None)
        me = f"{p.given} {p.family}"

        def add(
            payer: str,
            payer_id: str,
            plan: str,
            member: str,
            group: str = "",
            subscriber: str = "",
            relationship: str = "self",
            start: dt.date | None = None,
        ) -> None:
            p.coverages.append(
                CoverageSpec(
                    _uuid(rng),
                    len(p.coverages) + 1,
                    payer,
                    payer_id,
                    plan,
                    member,
                    group,
                    subscriber or me,
                    relationship,
                    start,
                )
            )

        def commercial(subscriber: str = "", relationship: str = "self") -> None:
            payer, payer_id, plan, prefix, _ = _weighted(
                rng, [(x, x[-1]) for x in c.COMMERCIAL_PLANS]
            )
            member = f"{prefix}{rng.randint(10**8, 10**9 - 1)}"
            group = f"{rng.randint(10000, 999999)}"
            start = dt.date(self.today.year - rng.randint(0, 4), 1, 1)
            add(
                payer,
                payer_id,
                plan,
                member,
                group,
                subscriber,
                relationship,
                max(start, p.birth_date),
            )

        def medicaid() -> None:
            payer, payer_id, plan, _ = _weighted(rng, [(x, x[-1]) for x in c.MEDICAID_PLANS])
            if age < 19:
                plan = f"{plan} (All Kids)"
            start = max(p.birth_date, self.today - dt.timedelta(days=rng.randint(30, 2000)))
            add(payer, payer_id, plan, f"{rng.randint(10**8, 10**9 - 1)}", start=start)

        if age < 19:
            roll = rng.random()
            if roll < 0.45:
                medicaid()
            elif roll < 0.95 and adult_contact is not None:
                commercial(adult_contact.name, "child")
            elif roll < 0.95:
                medicaid()
            return  # else uninsured (self-pay)
        if age >= 65:
            roll = rng.random()
            if roll < 0.92:
                payer, payer_id, plan, _ = _weighted(rng, [(x, x[-1]) for x in c.MEDICARE_PLANS])
                turned_65 = p.birth_date.replace(day=1) + dt.timedelta(days=_years(65))
                add(payer, payer_id, plan, _mbi(rng), start=turned_65.replace(day=1))
                if payer == "Medicare" and rng.random() < 0.45:
                    sup_payer, sup_id, sup_plan = rng.choice(c.MEDICARE_SUPPLEMENTS)
                    add(sup_payer, sup_id, sup_plan, f"{rng.randint(10**9, 10**10 - 1)}")
                elif rng.random() < 0.12:  # dual eligible
                    medicaid()
            elif roll < 0.97:
                commercial()
            return
        roll = rng.random()
        if roll < 0.58:
            if spouse is not None and rng.random() < 0.3:
                commercial(spouse.name, "spouse")
            else:
                commercial()
        elif roll < 0.8:
            medicaid()
        elif roll < 0.88:
            add(
                "Health Alliance",
                "",
                "Get Covered Illinois Silver (Marketplace)",
                f"HA{rng.randint(10**8, 10**9 - 1)}",
                start=dt.date(self.today.year, 1, 1),
            )
        # else self-pay

    # -- visits ------------------------------------------------------------------------------

    def _clinic_day(self, rng: random.Random, day: dt.date, p: PatientSpec) -> dt.date:
        """The day moved onto a weekday the clinic is open, in the same week when it can be
        (never before birth, never today or later)."""
        moved = day
        if moved.weekday() >= 5:
            moved -= dt.timedelta(days=moved.weekday() - 4 + rng.randrange(5))
        if (moved.month, moved.day) in CLOSED:
            moved -= dt.timedelta(days=1 if moved.weekday() > 0 else 3)
        if moved < p.birth_date:
            moved = day + dt.timedelta(days=7 - day.weekday())  # the Monday after
        return moved if moved < self.today else day

    def _slot(self, rng: random.Random, day: dt.date) -> dt.datetime:
        minutes = 8 * 60 + 20 * rng.randrange(27)  # 08:00 to 16:40
        return dt.datetime.combine(day, dt.time(minutes // 60, minutes % 60), tzinfo=self.tz)

    def _encounters(
        self,
        rng: random.Random,
        p: PatientSpec,
        clinic: ClinicPlan,
        planned_today: str | None,
        slot: int | None,
    ) -> None:
        today = self.today
        age_days = p.age_days(today)
        age = age_days / 365.25
        window_start = max(p.birth_date, today - dt.timedelta(days=_years(VISIT_YEARS)))
        last_day = today - dt.timedelta(days=1)
        visits: list[tuple[dt.date, str, str, str]] = []  # day, visit type, reason, kind

        if last_day >= window_start:
            if age < 3:
                for at_days, name in c.WELL_CHILD_AGES:
                    day = p.birth_date + dt.timedelta(days=at_days + rng.randint(0, 6))
                    if window_start <= day <= last_day and rng.random() < 0.9:
                        visits.append((day, "Well child", name, "AMB"))
            else:
                for year_back in range(VISIT_YEARS):
                    day = today - dt.timedelta(days=365 * year_back + rng.randint(1, 364))
                    if not window_start <= day <= last_day:
                        continue
                    if age < 18 and rng.random() < 0.7:
                        visits.append(
                            (
                                day,
                                "Well child",
                                f"Well-child visit, age {max(3, int(age) - year_back)}",
                                "AMB",
                            )
                        )
                    elif 18 <= age < 65 and rng.random() < 0.5:
                        visits.append((day, "Annual physical", "Annual physical", "AMB"))
                    elif age >= 65 and rng.random() < 0.7:
                        visits.append(
                            (day, "Medicare wellness", "Medicare annual wellness visit", "AMB")
                        )
            for cond in p.conditions:
                if cond.category != "problem-list-item" or not cond.active:
                    continue
                problem = next((x for x in c.PROBLEMS if x.description == cond.description), None)
                if problem is None or not problem.follow_up:
                    continue
                start = max(window_start, cond.onset_date or window_start)
                day = start + dt.timedelta(days=rng.randint(20, 120))
                while day <= last_day:
                    kind = "VR" if age >= 13 and rng.random() < 0.12 else "AMB"
                    visits.append(
                        (
                            day,
                            "Telehealth follow-up" if kind == "VR" else "Follow-up",
                            problem.follow_up,
                            kind,
                        )
                    )
                    day += dt.timedelta(days=rng.randint(90, 200))
            group = (
                "infant" if age < 1 else "child" if age < 18 else "adult" if age < 65 else "elder"
            )
            per_year = {"infant": 1.5, "child": 0.8, "adult": 0.5, "elder": 0.9}[group]
            years = (last_day - window_start).days / 365.25
            for _ in range(int(rng.random() * 2 * per_year * years + 0.5)):
                day = _between(rng, window_start, last_day)
                visits.append((day, "Sick visit", rng.choice(c.ACUTE_REASONS[group]), "AMB"))

        if rng.random() < 0.06 and planned_today is None:
            visits = []  # a new patient: registered, not yet seen
        by_day: dict[dt.date, tuple[str, str, str]] = {}
        for day, visit_type, reason, kind in sorted(visits):
            if reason != planned_today:  # one visit a day; today's is booked below
                by_day.setdefault(self._clinic_day(rng, day, p), (visit_type, reason, kind))
        days = sorted(by_day)[-MAX_PAST_VISITS:]
        if days and by_day[days[0]][0] != "Well child" and rng.random() < 0.5:
            _, reason, kind = by_day[days[0]]
            by_day[days[0]] = ("New patient", reason, kind)

        for day in days:
            visit_type, reason, kind = by_day[day]
            start = self._slot(rng, day)
            end = start + dt.timedelta(minutes=rng.choice((15, 20, 20, 25, 30, 40)))
            p.encounters.append(
                EncounterSpec(
                    _uuid(rng),
                    clinic.provider,
                    clinic.medical_assistant,
                    "done",
                    kind,
                    visit_type,
                    reason,
                    start,
                    end,
                )
            )
        if planned_today:
            self.plan_today(rng, p, clinic, planned_today, slot=slot)

        first_seen = min((e.period_start for e in p.encounters), default=None)
        born = dt.datetime.combine(p.birth_date, dt.time(12), tzinfo=self.tz)
        if first_seen is None:
            registered = today - dt.timedelta(days=rng.randint(1, 40))
            p.created_at = max(born, dt.datetime.combine(registered, dt.time(11), tzinfo=self.tz))
        else:
            p.created_at = max(born, first_seen - dt.timedelta(days=rng.randint(0, 21), hours=1))

    def plan_today(
        self,
        rng: random.Random,
        p: PatientSpec,
        clinic: ClinicPlan,
        reason: str,
        slot: int | None,
    ) -> None:
        age = p.age_days(self.today) / 365.25
        visit_type = (
            "Well child"
            if "well-child" in reason or "newborn" in reason
            else (
                "Follow-up" if "follow-up" in reason.lower() or "review" in reason else "Sick visit"
            )
        )
        if age >= 65 and "wellness" in reason:
            visit_type = "Medicare wellness"
        minutes = 8 * 60 + 20 * (slot if slot is not None else rng.randrange(27))
        start = dt.datetime.combine(
            self.today, dt.time(minutes // 60, minutes % 60), tzinfo=self.tz
        )
        p.encounters.append(
            EncounterSpec(
                _uuid(rng), clinic.provider, "", "scheduled", "AMB", visit_type, reason, start, None
            )
        )

    # -- the network -------------------------------------------------------------------------

    def generate(self, per_clinic: int = PATIENTS_PER_CLINIC) -> list[PatientSpec]:
        patients: list[PatientSpec] = []
        for clinic in CLINICS:
            featured = [f for f in FEATURED if f["clinic"] == clinic.code]
            counts = _apportion(per_clinic - len(featured), [b[2] for b in clinic.ages])
            plan_rng = random.Random(f"{self.seed}:{clinic.code}:ages")
            ours = [
                self.patient(clinic, i, f["age_days"], f, slot=2 * i)
                for i, f in enumerate(featured)
            ]
            for (lo, hi, _), count in zip(clinic.ages, counts, strict=True):
                for _ in range(count):
                    ours.append(self.patient(clinic, len(ours), plan_rng.randrange(lo, hi)))
            # The rest of today's schedule: patients chosen at random, in free slots.
            booked = sum(1 for p in ours for e in p.encounters if e.stage == "scheduled")
            candidates = [p for p in ours if not any(e.stage == "scheduled" for e in p.encounters)]
            for slot, p in enumerate(
                plan_rng.sample(candidates, max(0, clinic.planned_today - booked))
            ):
                reason = _todays_reason(plan_rng, p, self.today)
                self.plan_today(plan_rng, p, clinic, reason, slot=slot * 2 + 1)
            patients += ours
        # MRNs in order of registration, as a registration desk hands them out.
        for offset, p in enumerate(
            sorted(patients, key=lambda p: (p.created_at, p.clinic, p.ordinal))
        ):
            p.mrn_offset = offset
        return patients


def _todays_reason(rng: random.Random, p: PatientSpec, today: dt.date) -> str:
    follow_ups = [
        prob.follow_up
        for cond in p.conditions
        if cond.active and cond.category == "problem-list-item"
        for prob in c.PROBLEMS
        if prob.description == cond.description and prob.follow_up
    ]
    if follow_ups and rng.random() < 0.6:
        return rng.choice(follow_ups)
    age = p.age_days(today) / 365.25
    group = "infant" if age < 1 else "child" if age < 18 else "adult" if age < 65 else "elder"
    return rng.choice(c.ACUTE_REASONS[group])


def _condition(
    rng: random.Random,
    category: str,
    description: str,
    icd10: str = "",
    snomed: str = "",
    *,
    relative: str = "",
    onset: dt.date | None = None,
    active: bool = True,
) -> ConditionSpec:
    return ConditionSpec(_uuid(rng), category, description, icd10, snomed, relative, onset, active)


def _nka_code() -> str:
    from medassist.history.models import NO_KNOWN_ALLERGY_SNOMED

    return NO_KNOWN_ALLERGY_SNOMED


def _mbi(rng: random.Random) -> str:
    """A Medicare Beneficiary Identifier in CMS's format (11 characters: C A AN N A AN N A A N N;
    letters exclude S, L, O, I, B, Z). Made up, like everything here."""
    letters = "ACDEFGHJKMNPQRTUVWXY"
    alnum = letters + "0123456789"
    digits = "0123456789"
    pattern = (
        "123456789",
        letters,
        alnum,
        digits,
        letters,
        alnum,
        digits,
        letters,
        letters,
        digits,
        digits,
    )
    return "".join(rng.choice(chars) for chars in pattern)


def generate(
    *,
    today: dt.date,
    seed: int = SEED,
    per_clinic: int = PATIENTS_PER_CLINIC,
    tz: dt.tzinfo | None = None,
) -> list[PatientSpec]:
    """The demo network's patients, in clinic order."""
    return DemoGenerator(today=today, seed=seed, tz=tz).generate(per_clinic)


def fingerprint(patients: list[PatientSpec]) -> str:
    """SHA-256 of everything generated: equal fingerprints, identical demo data."""
    text = json.dumps([asdict(p) for p in patients], default=str, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()
