"""Name catalogs by origin, frequency weighted, plus the nickname map and look-alike twin names.

Lists come from Faker's locale person providers where they exist in a usable (Latin) script
(en_US with real frequencies, es_MX, fr_FR, de_DE, pl_PL, it_IT, en_IN, en_NG, vi_VN, zh_CN's
romanised lists) and are hand-listed where Faker has none or only a native script (Arabic,
Korean, Filipino, Pacific Islander, Native American, current US children's names). A "head" of
common names carries most of the weight so that Smith, Garcia and Nguyen are as common as in a
real roster: name frequency is what makes blocking and false matches realistic.
"""

from __future__ import annotations

import random
import unicodedata
from bisect import bisect_right
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import accumulate
from typing import Generic, TypeVar

from faker.providers.person.de_DE import Provider as _DeDE
from faker.providers.person.en_IN import Provider as _EnIN
from faker.providers.person.en_NG import Provider as _EnNG
from faker.providers.person.en_US import Provider as _EnUS
from faker.providers.person.es_MX import Provider as _EsMX
from faker.providers.person.fr_FR import Provider as _FrFR
from faker.providers.person.it_IT import Provider as _ItIT
from faker.providers.person.pl_PL import Provider as _PlPL
from faker.providers.person.vi_VN import Provider as _ViVN
from faker.providers.person.zh_CN import Provider as _ZhCN

T = TypeVar("T")


class Weighted(Generic[T]):
    """Draws from fixed items with fixed weights: one `random()` and a bisect (fast, seeded)."""

    __slots__ = ("items", "_cum", "_total")

    def __init__(self, pairs: Iterable[tuple[T, float]]) -> None:
        merged: dict[T, float] = {}
        for item, weight in pairs:
            if weight > 0:
                merged[item] = merged.get(item, 0.0) + weight
        if not merged:
            raise ValueError("no items with a positive weight")
        self.items: list[T] = list(merged)
        self._cum = list(accumulate(merged.values()))
        self._total = self._cum[-1]

    def pick(self, rng: random.Random) -> T:
        return self.items[bisect_right(self._cum, rng.random() * self._total)]

    def pairs(self) -> list[tuple[T, float]]:
        """Items with their normalised weights (to extend a catalog)."""
        prev = [0.0, *self._cum[:-1]]
        return [(item, (c - p) / self._total) for item, c, p in zip(self.items, self._cum, prev)]

    def weight(self, item: T) -> float:
        """Share of `item` (0 if absent); used by tests and the README's figures."""
        try:
            i = self.items.index(item)
        except ValueError:
            return 0.0
        return (self._cum[i] - (self._cum[i - 1] if i else 0.0)) / self._total

    def __len__(self) -> int:
        return len(self.items)


def _clean(names: Iterable[str]) -> list[str]:
    """Drop provider entries that are not a plausible roster name (historic titles, commas)."""
    out: list[str] = []
    seen: set[str] = set()
    for raw in names:
        name = " ".join(raw.split())
        if not name or "," in name or any(ch.isdigit() for ch in name) or name in seen:
            continue
        words = name.split(" ")
        if len(words) > 3 or words[-1] in {"II", "III", "van", "von"} or words[0] in {"auch", "Die"}:
            continue
        seen.add(name)
        out.append(name)
    return out


def weighted(
    head: Sequence[str] | Mapping[str, float],
    tail: Iterable[str] = (),
    head_share: float = 0.6,
    zipf_tail: bool = False,
    zipf_offset: int = 5,
) -> Weighted[str]:
    """A common-names head (explicit weights, or Zipf 1/(rank + offset)) over a long tail.

    The tail is uniform unless `zipf_tail` (for provider lists already ordered by frequency).
    """
    if isinstance(head, Mapping):
        head_pairs = list(head.items())
    else:
        head_pairs = [(n, 1.0 / (i + zipf_offset)) for i, n in enumerate(head)]
    head_names = {n for n, _ in head_pairs}
    tail_names = [n for n in _clean(tail) if n not in head_names]
    if not tail_names:
        return Weighted(head_pairs)
    if not head_pairs:
        head_share = 0.0
    head_total = sum(w for _, w in head_pairs) or 1.0
    tail_raw = [1.0 / (i + 10) if zipf_tail else 1.0 for i in range(len(tail_names))]
    tail_total = sum(tail_raw)
    pairs = [(n, head_share * w / head_total) for n, w in head_pairs]
    pairs += [(n, (1.0 - head_share) * w / tail_total) for n, w in zip(tail_names, tail_raw)]
    return Weighted(pairs)


_ASCII_FOLD = str.maketrans({"Đ": "D", "đ": "d", "Ł": "L", "ł": "l", "Ø": "O", "ø": "o", "ß": "ss", "Æ": "AE", "æ": "ae", "’": "'"})


def strip_accents(text: str) -> str:
    """ASCII-fold a name the way legacy systems do (José -> Jose, Nguyễn -> Nguyen, Đặng -> Dang)."""
    text = text.translate(_ASCII_FOLD)
    if text.isascii():
        return text
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# ---------------------------------------------------------------------------------------------
# Hand lists (names Faker lacks in a Latin script, or where its list is alphabetical, not ranked)

US_KIDS_MALE = (
    "Liam Noah Oliver Elijah James William Benjamin Lucas Henry Theodore Jack Levi Alexander Jackson "
    "Mateo Daniel Michael Mason Sebastian Ethan Logan Owen Samuel Jacob Asher Aiden John Joseph Wyatt "
    "David Leo Luke Julian Hudson Grayson Matthew Ezra Gabriel Carter Isaac Jayden Luca Anthony Dylan "
    "Lincoln Thomas Maverick Elias Josiah Charles Caleb Christopher Ezekiel Miles Jaxon Isaiah Andrew "
    "Joshua Nathan Nolan Adrian Cameron Santiago Eli Aaron Ryan Angel Cooper Waylon Easton Kai Christian "
    "Landon Colton Roman Axel Brooks Jonathan Robert Jameson Ian Everett Greyson Wesley Jeremiah Hunter "
    "Leonardo Jordan Jose Bennett Silas Nicholas Parker Beau Weston Austin Connor Carson Dominic Xavier "
    "Tyler Brandon Justin Kevin Zachary Evan Gavin Chase Brayden Jace Micah Tristan Ryder Declan Emmett"
).split()
US_KIDS_FEMALE = (
    "Olivia Emma Charlotte Amelia Sophia Mia Isabella Ava Evelyn Luna Harper Camila Sofia Scarlett "
    "Elizabeth Eleanor Emily Chloe Mila Violet Penelope Gianna Aria Abigail Ella Avery Hazel Nora Layla "
    "Lily Aurora Nova Ellie Madison Grace Isla Willow Zoe Riley Stella Zoey Victoria Hannah Addison Leah "
    "Lucy Eliana Ivy Everly Lillian Paisley Elena Naomi Maya Natalie Kinsley Delilah Claire Audrey "
    "Aaliyah Ruby Brooklyn Alice Aubrey Autumn Leilani Savannah Valentina Kennedy Madelyn Josephine "
    "Bella Skylar Genesis Sophie Hailey Sadie Natalia Quinn Caroline Allison Gabriella Anna Serenity "
    "Nevaeh Cora Ariana Emery Lydia Jade Sarah Eva Adeline Madeline Piper Katherine Samantha Alexis "
    "Taylor Kaylee Makayla Brianna Jessica Ashley Lauren Morgan Sydney Jasmine"
).split()
# A few accented spellings that US parents do use; rare, but they exist on real rosters.
US_KIDS_ACCENTED = {"Zoë": 0.004, "Chloé": 0.002, "Renée": 0.002, "André": 0.002, "Noël": 0.001, "Anaïs": 0.001}
BLACK_KIDS_MALE = "Jamal DeShawn Malik Jaylen Darius Tyrone Jalen Xavier Zion Isaiah Marcus Andre D'Andre Kareem Terrell Jamari Amari Khalil".split()
BLACK_KIDS_FEMALE = "Imani Aaliyah Jada Kiara Destiny Nia Zaria Ayanna Keisha Tiana Jasmine Aniyah Amari Nevaeh Janiyah La'Keisha Shaniqua".split()
US_COMPOUND_SURNAMES = {
    "O'Brien": 0.0012, "O'Connor": 0.0012, "O'Neill": 0.0008, "O'Malley": 0.0004, "McDonald": 0.0012,
    "McCarthy": 0.0008, "MacArthur": 0.0003, "McKenzie": 0.0005, "St. John": 0.0003, "Van Buren": 0.0003,
    "Van Dyke": 0.0004, "VanderMeer": 0.0002, "De Luca": 0.0003, "DiMaggio": 0.0002, "D'Angelo": 0.0003,
    "LaRue": 0.0002, "LeBlanc": 0.0006, "DuBois": 0.0004, "Vander Ploeg": 0.0001, "Van der Berg": 0.0002,
}
NATIVE_SURNAMES = {
    "Begay": 1.0, "Yazzie": 0.9, "Benally": 0.6, "Tsosie": 0.5, "Nez": 0.5, "Etsitty": 0.3, "Whitehorse": 0.3,
    "Two Bulls": 0.2, "Little Wolf": 0.2, "Redcloud": 0.2, "Running Bear": 0.1, "Locklear": 0.5, "Oxendine": 0.3,
    "Chavis": 0.2, "Lente": 0.2, "Harjo": 0.3, "Tso": 0.3, "Manuelito": 0.2,
}

HISPANIC_LAST = {
    "García": 1.0, "Rodríguez": 0.86, "Martínez": 0.8, "Hernández": 0.78, "López": 0.72, "González": 0.68,
    "Pérez": 0.46, "Sánchez": 0.43, "Ramírez": 0.43, "Torres": 0.33, "Flores": 0.32, "Rivera": 0.32,
    "Gómez": 0.29, "Díaz": 0.29, "Cruz": 0.23, "Morales": 0.22, "Reyes": 0.21, "Gutiérrez": 0.19,
    "Ortiz": 0.19, "Ramos": 0.16, "Ruiz": 0.16, "Chávez": 0.16, "Mendoza": 0.15, "Castillo": 0.15,
    "Jiménez": 0.14, "Vásquez": 0.14, "Moreno": 0.14, "Romero": 0.13, "Álvarez": 0.13, "Herrera": 0.12,
    "Medina": 0.12, "Aguilar": 0.12, "Vargas": 0.11, "Castro": 0.11, "Guzmán": 0.1, "Fernández": 0.1,
    "Muñoz": 0.1, "Méndez": 0.1, "Salazar": 0.1, "Soto": 0.09, "Delgado": 0.09, "Peña": 0.09,
    "Ríos": 0.08, "Contreras": 0.08, "Sandoval": 0.08, "Guerrero": 0.08, "Estrada": 0.07, "Núñez": 0.07,
    "Domínguez": 0.07, "Ortega": 0.07, "de la Cruz": 0.05, "De León": 0.04, "del Río": 0.02, "de la Rosa": 0.03,
}
HISPANIC_FIRST_MALE = (
    "Santiago Mateo Sebastián Matías Diego Leonardo Daniel Alejandro José Juan Luis Carlos Miguel Ángel "
    "Jesús Emiliano Gael Adrián David Jorge Fernando Francisco Antonio Manuel Ricardo Eduardo Javier "
    "Alexander Julián Isaac Christopher Anthony Jayden Aaron Kevin Brandon Bryan Jonathan"
).split() + ["Juan Carlos", "José Luis", "Luis Ángel", "Jesús Alberto"]
HISPANIC_FIRST_FEMALE = (
    "Sofía Valentina Camila Isabella Ximena Regina Mariana María Guadalupe Daniela Valeria Natalia "
    "Victoria Renata Andrea Fernanda Gabriela Alejandra Paola Ana Lucía Emily Genesis Ashley Mía "
    "Melanie Nicole Angelina Esmeralda Yesenia Karla Jazmín Alondra Jimena"
).split() + ["María José", "Ana Sofía", "María Fernanda"]

VIET_LAST = {
    "Nguyễn": 0.38, "Trần": 0.11, "Lê": 0.095, "Phạm": 0.07, "Hoàng": 0.03, "Huỳnh": 0.03, "Phan": 0.045,
    "Vũ": 0.039, "Võ": 0.03, "Đặng": 0.021, "Bùi": 0.02, "Đỗ": 0.014, "Hồ": 0.013, "Ngô": 0.013,
    "Dương": 0.01, "Lý": 0.005, "Trương": 0.01, "Đinh": 0.006, "Mai": 0.005, "Lâm": 0.005,
}
VIET_FIRST_MALE = "Minh Huy Khang Bảo Phúc Anh Khôi Đức Long Quang Tuấn Nam Hoàng Hiếu Thiện Duy Khoa".split()
VIET_FIRST_FEMALE = "Linh Ngọc Trang Thảo Vy Anh My Hân Nhi Quỳnh Phương Hà Uyên Thư Mai Hạnh".split()

CHINESE_LAST = (
    "Wang Li Zhang Liu Chen Yang Huang Zhao Wu Zhou Xu Sun Ma Zhu Hu Guo He Lin Gao Luo "
    "Chan Wong Lee Lam Cheung Ng Ho Leung Tsai Chang Hsu Liang Song Zheng Xie Tang Han Feng Deng"
).split()
CHINESE_FIRST_MALE = "Wei Hao Yi Jun Ming Jie Yu Haoran Yuxuan Zihan Zixuan Yichen Jiahao Junjie Xiaoming Kai Bo Tian".split()
CHINESE_FIRST_FEMALE = "Xin Jing Hui Lin Yan Xinyi Ruoxi Meiling Yuxin Shuang Qian Ying Xiaoyu Mei Lan Yue Jia".split()

KOREAN_LAST = "Kim Lee Park Choi Jung Kang Cho Yoon Jang Lim Han Oh Seo Shin Kwon Hwang Ahn Song Yoo Hong".split()
KOREAN_FIRST_MALE = "Min-jun Seo-jun Do-yoon Ji-ho Ha-jun Joon-young Hyun-woo Jae-won Sung-min Dong-hyun Minho Jisung".split()
KOREAN_FIRST_FEMALE = "Seo-yeon Ha-eun Ji-woo Soo-ah Ji-yoo Min-seo Yuna Eun-ji Hye-jin Su-bin Chae-won Jiyeon".split()

INDIAN_LAST = {
    "Patel": 1.0, "Singh": 0.5, "Shah": 0.4, "Kumar": 0.4, "Sharma": 0.3, "Reddy": 0.25, "Gupta": 0.2,
    "Desai": 0.15, "Mehta": 0.15, "Rao": 0.15, "Joshi": 0.12, "Kaur": 0.1, "Iyer": 0.1, "Nair": 0.1, "Agarwal": 0.08,
}
INDIAN_FIRST_MALE = "Aarav Vihaan Arjun Aditya Reyansh Krishna Ishaan Rohan Dev Aryan Rahul Vikram Sanjay Amit".split()
INDIAN_FIRST_FEMALE = "Aanya Diya Saanvi Ananya Aadhya Pari Isha Priya Riya Anika Kavya Neha Pooja Shreya".split()

FILIPINO_LAST = (
    "Santos Reyes Cruz Bautista Ocampo Garcia Mendoza Torres Tomas Andrada Castillo Flores Villanueva "
    "Ramos Castro Rivera Aquino Navarro Salazar Mercado Dizon Manalo Pascual Soriano Macaraeg"
).split() + ["dela Cruz", "delos Santos", "De Guzman"]
FILIPINO_FIRST_MALE = "Jose Mark John Paul Christian Angelo Jericho Jhon Carlo Rafael Miguel Joshua Gabriel".split()
FILIPINO_FIRST_FEMALE = "Maria Angelica Princess Rhea Kristine Mary Grace Joy Jasmine Bea Nicole Andrea Camille".split()

ARABIC_LAST = (
    "Al-Sayed El-Amin Abdallah Haddad Khoury Mansour Nasser Saleh Hassan Ibrahim Ali Ahmed Mahmoud "
    "Al-Hashimi Abu-Bakr Aziz Farah Hamdan Rahman Said Youssef Khalil Awad El-Sayed Al-Masri Shaheen"
).split()
ARABIC_FIRST_MALE = "Mohammed Muhammad Ahmed Ali Omar Yusuf Ibrahim Hassan Hussein Khalid Mustafa Abdullah Karim Amir Zaid Adam Hamza Bilal Tariq Samir".split()
ARABIC_FIRST_FEMALE = "Fatima Aisha Mariam Maryam Layla Noor Zainab Sara Huda Amira Yasmin Salma Hana Rania Leila Nadia Rana Dina Lina Jana".split()

NIGERIAN_LAST = "Okoro Adebayo Nwosu Afolabi Oladipo Okeke Nwachukwu Ogunbiyi Adeleke Olumide Onyeka Bello Adewale".split()
NIGERIAN_FIRST_MALE = "Chinedu Oluwaseun Emeka Chidi Kelechi Tobi Ayomide Femi Tunde Obinna Ikenna".split()
NIGERIAN_FIRST_FEMALE = "Adaeze Chiamaka Ngozi Temitope Ifeoma Folake Funmilayo Chioma Adaora Yetunde Blessing".split()

PACIFIC_LAST = "Tuilagi Fifita Kealoha Kahananui Faleolo Taufa Vaifale Leota Mahoe Akana Kekumu Tupou Fonoti Kahale".split()
PACIFIC_FIRST_MALE = "Keoni Kainoa Makana Kalani Sione Tevita Ikaika Kekoa Mana Pita Semisi".split()
PACIFIC_FIRST_FEMALE = "Malia Leilani Noelani Mele Losa Kaimana Alana Moana Lani Ana Salote".split()

ITALIAN_LAST = "Rossi Russo Ferrari Esposito Bianchi Romano Colombo Ricci Marino Greco Bruno Gallo Conti De Luca Costa".split()
GERMAN_LAST = "Müller Schmidt Schneider Fischer Weber Meyer Wagner Becker Schulz Hoffmann Schäfer Koch Bauer Richter Klein".split()

# ---------------------------------------------------------------------------------------------
# Nicknames (formal given name -> nicknames) and look-alike names for twins.

NICKNAMES: dict[str, tuple[str, ...]] = {
    "William": ("Bill", "Will", "Billy", "Liam"), "Robert": ("Bob", "Rob", "Bobby"), "Richard": ("Rick", "Rich", "Dick"),
    "James": ("Jim", "Jimmy", "Jamie"), "John": ("Jack", "Johnny"), "Joseph": ("Joe", "Joey"), "Michael": ("Mike", "Mikey"),
    "Christopher": ("Chris",), "Matthew": ("Matt",), "Nicholas": ("Nick", "Nicky"), "Anthony": ("Tony",),
    "Daniel": ("Dan", "Danny"), "David": ("Dave", "Davey"), "Thomas": ("Tom", "Tommy"), "Charles": ("Charlie", "Chuck"),
    "Edward": ("Ed", "Eddie", "Ted"), "Alexander": ("Alex", "Xander"), "Benjamin": ("Ben", "Benny"), "Samuel": ("Sam", "Sammy"),
    "Jonathan": ("Jon",), "Andrew": ("Andy", "Drew"), "Joshua": ("Josh",), "Zachary": ("Zach", "Zack"), "Jacob": ("Jake",),
    "Nathaniel": ("Nate", "Nathan"), "Nathan": ("Nate",), "Timothy": ("Tim", "Timmy"), "Steven": ("Steve",),
    "Stephen": ("Steve",), "Gregory": ("Greg",), "Patrick": ("Pat",), "Kenneth": ("Ken", "Kenny"), "Ronald": ("Ron",),
    "Donald": ("Don", "Donnie"), "Gerald": ("Jerry",), "Lawrence": ("Larry",), "Jeffrey": ("Jeff",), "Theodore": ("Theo", "Ted"),
    "Elijah": ("Eli",), "Sebastian": ("Seb",), "Gabriel": ("Gabe",), "Maximilian": ("Max",), "Frederick": ("Fred",),
    "Elizabeth": ("Liz", "Beth", "Betsy", "Eliza"), "Katherine": ("Kate", "Katie", "Kathy"), "Catherine": ("Cathy", "Kate"),
    "Margaret": ("Maggie", "Meg", "Peggy"), "Jennifer": ("Jen", "Jenny"), "Jessica": ("Jess", "Jessie"),
    "Rebecca": ("Becky", "Becca"), "Abigail": ("Abby",), "Samantha": ("Sam", "Sammy"), "Alexandra": ("Alex", "Lexi"),
    "Victoria": ("Vicky", "Tori"), "Kimberly": ("Kim",), "Patricia": ("Patty", "Trish"), "Christina": ("Tina", "Chris"),
    "Christine": ("Chris",), "Deborah": ("Debbie",), "Susan": ("Sue",), "Madeline": ("Maddie",), "Madison": ("Maddie",),
    "Olivia": ("Liv", "Livvy"), "Isabella": ("Bella", "Izzy"), "Isabel": ("Izzy",), "Gabriella": ("Gabby", "Ella"),
    "Nicole": ("Nikki",), "Stephanie": ("Steph",), "Allison": ("Ally",), "Natalie": ("Nat",), "Jacqueline": ("Jackie",),
    "Penelope": ("Penny",), "Eleanor": ("Ellie", "Nora"), "Charlotte": ("Charlie", "Lottie"), "Amelia": ("Millie",),
    "Evelyn": ("Evie",), "Josephine": ("Josie",), "Caroline": ("Carrie",), "Valentina": ("Vale",),
    "José": ("Pepe",), "Francisco": ("Paco", "Pancho"), "Guadalupe": ("Lupe",), "Enrique": ("Kike",), "Jesús": ("Chuy",),
    "Alejandro": ("Alex",), "Roberto": ("Beto",), "Alberto": ("Beto",), "Eduardo": ("Lalo",), "Ignacio": ("Nacho",),
    "Dolores": ("Lola",), "Manuel": ("Manny",), "Rafael": ("Rafa",), "Fernando": ("Nando",), "Santiago": ("Santi",),
    "Sebastián": ("Sebas",), "Mohammed": ("Mo",), "Muhammad": ("Mo",), "Ibrahim": ("Ibo",), "Oluwaseun": ("Seun",),
}

SIMILAR_MALE = [
    ("Aiden", "Aidan"), ("Jayden", "Jaden"), ("Brayden", "Braden"), ("Caleb", "Kaleb"), ("Ethan", "Evan"),
    ("Mason", "Jason"), ("Dylan", "Dillon"), ("Ryan", "Brian"), ("Jon", "John"), ("Elijah", "Elias"),
    ("Mateo", "Matias"), ("José", "Josué"), ("Jaxon", "Jackson"), ("Landon", "Brandon"), ("Carson", "Carter"),
]
SIMILAR_FEMALE = [
    ("Mia", "Maya"), ("Ava", "Eva"), ("Emma", "Emily"), ("Ella", "Bella"), ("Madison", "Madeline"),
    ("Kaitlyn", "Katelyn"), ("Hailey", "Haley"), ("Sophia", "Sofia"), ("Isabel", "Isabella"), ("Lily", "Lila"),
    ("Zoe", "Zoë"), ("Leah", "Lea"), ("Anna", "Hannah"), ("Mariana", "Marina"), ("Kayla", "Kaylee"),
]
SIMILAR_MIXED = [  # (boy, girl)
    ("Jordan", "Jordyn"), ("Adrian", "Adriana"), ("Daniel", "Daniela"), ("Gabriel", "Gabriela"),
    ("Julian", "Juliana"), ("Alexander", "Alexandra"), ("Oliver", "Olivia"), ("Erik", "Erika"), ("Mario", "Maria"),
]


# ---------------------------------------------------------------------------------------------
# Origins

RaceSet = tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Origin:
    """Naming and demographic habits of one group of families.

    `kid_us_first`: chance a child's given name comes from the current US list rather than the
    origin's (immigrant families often choose an English given name). `keep_diacritics`: chance a
    family's names keep their accents in school records. `double_surname`: chance a child of two
    parents with different surnames carries both.
    """

    key: str
    last: Weighted[str]
    first_male: Weighted[str]
    first_female: Weighted[str]
    kid_us_first: float
    adult_us_first: float
    races: Weighted[RaceSet]
    hispanic: float
    middle_rate: float
    keep_diacritics: float
    own_surname: float  # a mother keeps her own surname
    double_surname: float
    abroad: float  # born outside the US (scaled up with age)
    countries: Weighted[str]


def _r(*pairs: tuple[RaceSet, float]) -> Weighted[RaceSet]:
    return Weighted(pairs)


def _c(**countries: float) -> Weighted[str]:
    return Weighted((k.replace("_", " "), v) for k, v in countries.items())


_US_LAST = weighted(dict(_EnUS.last_names) | US_COMPOUND_SURNAMES, head_share=1.0)
# Adults carry the census frequencies Faker ships; children mostly today's popular names.
US_ADULT_M = weighted(dict(_EnUS.first_names_male), head_share=1.0)
US_ADULT_F = weighted(dict(_EnUS.first_names_female), head_share=1.0)
US_KIDS_M = weighted(US_KIDS_MALE, _EnUS.first_names_male, head_share=0.7, zipf_offset=15)
US_KIDS_F = Weighted(
    weighted(US_KIDS_FEMALE, _EnUS.first_names_female, head_share=0.7, zipf_offset=15).pairs()
    + list(US_KIDS_ACCENTED.items())
)

_NO_ABROAD = _c(Canada=1.0, Germany=0.5, United_Kingdom=0.5)
_ASIAN_RACES = _r((("AS",), 0.93), (("AS", "WH"), 0.07))
_WHITE_RACES = _r((("WH",), 0.98), (("AS", "WH"), 0.01), (("BL", "WH"), 0.01))


def _o(key: str, last: Weighted[str], male: Weighted[str], female: Weighted[str], **habits: object) -> Origin:
    defaults: dict[str, object] = {
        "kid_us_first": 1.0, "adult_us_first": 1.0, "hispanic": 0.01, "middle_rate": 0.7,
        "keep_diacritics": 1.0, "own_surname": 0.2, "double_surname": 0.0, "abroad": 0.0,
        "countries": _NO_ABROAD, "races": _WHITE_RACES,
    }
    return Origin(key=key, last=last, first_male=male, first_female=female, **(defaults | habits))  # type: ignore[arg-type]


def _origins() -> dict[str, tuple[Origin, float]]:
    """Every origin with its share of families statewide (districts vary around these)."""
    defs: list[tuple[Origin, float]] = [
        (_o("us_white", _US_LAST, US_ADULT_M, US_ADULT_F,
            races=_r((("WH",), 0.93), (("AM", "WH"), 0.03), (("BL", "WH"), 0.02), (("AS", "WH"), 0.02)),
            hispanic=0.02, middle_rate=0.8, own_surname=0.12, double_surname=0.05, abroad=0.01), 0.43),
        (_o("us_black", _US_LAST, weighted(BLACK_KIDS_MALE), weighted(BLACK_KIDS_FEMALE),
            kid_us_first=0.8, adult_us_first=0.9,
            races=_r((("BL",), 0.9), (("BL", "WH"), 0.07), (("AM", "BL"), 0.03)),
            hispanic=0.03, own_surname=0.25, double_surname=0.04, abroad=0.02,
            countries=_c(Jamaica=0.4, Haiti=0.3, Ethiopia=0.2, Somalia=0.2)), 0.14),
        (_o("native", weighted(NATIVE_SURNAMES, _EnUS.last_names, 0.4), US_ADULT_M, US_ADULT_F,
            races=_r((("AM",), 0.7), (("AM", "WH"), 0.25), (("AM", "BL"), 0.05)),
            hispanic=0.1, middle_rate=0.6, double_surname=0.03), 0.01),
        (_o("hispanic", weighted(HISPANIC_LAST, _EsMX.last_names, 0.6),
            weighted(HISPANIC_FIRST_MALE, _EsMX.first_names_male, 0.7),
            weighted(HISPANIC_FIRST_FEMALE, _EsMX.first_names_female, 0.7),
            kid_us_first=0.35, adult_us_first=0.15,
            races=_r((("WH",), 0.72), (("AM",), 0.08), (("AM", "WH"), 0.07), (("BL",), 0.04),
                     (("BL", "WH"), 0.03), (("AS",), 0.01), (("PI",), 0.005)),
            hispanic=0.97, middle_rate=0.5, keep_diacritics=0.4, own_surname=0.45, double_surname=0.3,
            abroad=0.12, countries=_c(Mexico=0.6, Guatemala=0.1, El_Salvador=0.1, Honduras=0.08,
                                      Dominican_Republic=0.04, Venezuela=0.04, Colombia=0.04)), 0.27),
        (_o("chinese", weighted(CHINESE_LAST, _ZhCN.last_romanized_names, 0.8),
            weighted(CHINESE_FIRST_MALE, _ZhCN.first_romanized_names, 0.6),
            weighted(CHINESE_FIRST_FEMALE, _ZhCN.first_romanized_names, 0.6),
            kid_us_first=0.6, adult_us_first=0.3, races=_ASIAN_RACES, hispanic=0.005, middle_rate=0.4,
            own_surname=0.5, abroad=0.2, countries=_c(China=0.7, Taiwan=0.2, Hong_Kong=0.1)), 0.015),
        (_o("vietnamese", weighted(VIET_LAST, _ViVN.last_names, 0.9),
            weighted(VIET_FIRST_MALE, _ViVN.first_names_male, 0.6),
            weighted(VIET_FIRST_FEMALE, _ViVN.first_names_female, 0.6),
            kid_us_first=0.55, adult_us_first=0.3, races=_ASIAN_RACES, hispanic=0.005, middle_rate=0.5,
            keep_diacritics=0.3, own_surname=0.5, abroad=0.2, countries=_c(Vietnam=1.0)), 0.01),
        (_o("korean", weighted(KOREAN_LAST), weighted(KOREAN_FIRST_MALE), weighted(KOREAN_FIRST_FEMALE),
            kid_us_first=0.6, adult_us_first=0.3, races=_ASIAN_RACES, hispanic=0.005, middle_rate=0.3,
            own_surname=0.5, abroad=0.2, countries=_c(South_Korea=1.0)), 0.007),
        (_o("indian", weighted(INDIAN_LAST, _EnIN.last_names, 0.6),
            weighted(INDIAN_FIRST_MALE, _EnIN.first_names_male, 0.5),
            weighted(INDIAN_FIRST_FEMALE, _EnIN.first_names_female, 0.5),
            kid_us_first=0.25, adult_us_first=0.05, races=_r((("AS",), 0.95), (("AS", "WH"), 0.05)),
            hispanic=0.005, middle_rate=0.4, own_surname=0.3, abroad=0.25, countries=_c(India=1.0)), 0.015),
        (_o("filipino", weighted(FILIPINO_LAST), weighted(FILIPINO_FIRST_MALE), weighted(FILIPINO_FIRST_FEMALE),
            kid_us_first=0.6, adult_us_first=0.4,
            races=_r((("AS",), 0.85), (("AS", "PI"), 0.1), (("AS", "WH"), 0.05)),
            hispanic=0.05, middle_rate=0.7, abroad=0.15, countries=_c(Philippines=1.0)), 0.01),
        (_o("arabic", weighted(ARABIC_LAST), weighted(ARABIC_FIRST_MALE), weighted(ARABIC_FIRST_FEMALE),
            kid_us_first=0.2, adult_us_first=0.05, races=_r((("WH",), 0.85), (("BL",), 0.05), (("AS",), 0.1)),
            hispanic=0.0, middle_rate=0.3, own_surname=0.4, abroad=0.3,
            countries=_c(Iraq=0.25, Syria=0.2, Yemen=0.15, Egypt=0.15, Lebanon=0.1, Jordan=0.1, Saudi_Arabia=0.05)), 0.012),
        (_o("nigerian", weighted(NIGERIAN_LAST, _EnNG.last_names, 0.5),
            weighted(NIGERIAN_FIRST_MALE, _EnNG.first_names_male, 0.5),
            weighted(NIGERIAN_FIRST_FEMALE, _EnNG.first_names_female, 0.5),
            kid_us_first=0.3, adult_us_first=0.3, races=_r((("BL",), 0.97), (("BL", "WH"), 0.03)),
            hispanic=0.0, middle_rate=0.6, abroad=0.25, countries=_c(Nigeria=1.0)), 0.008),
        (_o("pacific", weighted(PACIFIC_LAST), weighted(PACIFIC_FIRST_MALE), weighted(PACIFIC_FIRST_FEMALE),
            kid_us_first=0.5, adult_us_first=0.5,
            races=_r((("PI",), 0.8), (("AS", "PI"), 0.1), (("PI", "WH"), 0.1)),
            hispanic=0.02, middle_rate=0.5, abroad=0.15, countries=_c(Samoa=0.5, Tonga=0.3, Fiji=0.2)), 0.004),
        (_o("french", weighted((), _FrFR.last_names, zipf_tail=True), weighted((), _FrFR.first_names_male),
            weighted((), _FrFR.first_names_female), kid_us_first=0.5, adult_us_first=0.2,
            races=_r((("WH",), 0.95), (("BL",), 0.05)), keep_diacritics=0.8, double_surname=0.02, abroad=0.1,
            countries=_c(France=0.6, Canada=0.3, Belgium=0.1)), 0.008),
        (_o("german", weighted(GERMAN_LAST, _DeDE.last_names, 0.5), weighted((), _DeDE.first_names_male),
            weighted((), _DeDE.first_names_female), kid_us_first=0.7, adult_us_first=0.3,
            keep_diacritics=0.7, double_surname=0.05, abroad=0.08, countries=_c(Germany=0.8, Austria=0.2)), 0.012),
        (_o("polish", weighted((), _PlPL.male_last_names, zipf_tail=True), weighted((), _PlPL.first_names_male),
            weighted((), _PlPL.first_names_female), kid_us_first=0.6, adult_us_first=0.3, middle_rate=0.6,
            keep_diacritics=0.6, double_surname=0.02, abroad=0.1, countries=_c(Poland=1.0)), 0.008),
        (_o("italian", weighted(ITALIAN_LAST, _ItIT.last_names, 0.5), weighted((), _ItIT.first_names_male),
            weighted((), _ItIT.first_names_female), kid_us_first=0.7, adult_us_first=0.5,
            own_surname=0.15, double_surname=0.02, abroad=0.05, countries=_c(Italy=1.0)), 0.01),
    ]
    return {o.key: (o, w) for o, w in defs}


ORIGINS: dict[str, tuple[Origin, float]] = _origins()

STAFF_ORIGINS: Weighted[str] = Weighted(
    (k, w * (3.0 if k in {"us_white", "us_black"} else 1.0)) for k, (_, w) in ORIGINS.items()
)

# Polish surnames take a feminine form for women (Kowalski -> Kowalska): a real source of
# "same family, different surname".
_PL_FEMININE = (("ski", "ska"), ("cki", "cka"), ("dzki", "dzka"))


def feminine_surname(origin: str, surname: str) -> str:
    if origin == "polish":
        for masc, fem in _PL_FEMININE:
            if surname.endswith(masc):
                return surname[: -len(masc)] + fem
    return surname
