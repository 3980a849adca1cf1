"""What the synthetic patients are made of: problems with the medications that treat them,
allergies, surgeries, family history, payers, streets and visit reasons.

Codes: ICD-10-CM (FY2025 tabular list), SNOMED CT (US edition) where the concept is a well-known
one, RxNorm *ingredient* (IN) concepts for medications and drug allergies (the dose is written
beside them, as on a reported medication list). A code is left blank rather than guessed.
Every name, number and address here is made up; phone numbers use the 555 exchange."""

from dataclasses import dataclass

RXNORM = "http://www.nlm.nih.gov/research/umls/rxnorm"
SNOMED = "http://snomed.info/sct"


@dataclass(frozen=True)
class Med:
    name: str
    rxnorm: str
    dose: str
    route: str
    frequency: str


@dataclass(frozen=True)
class Problem:
    """A problem-list condition, how common it is by age (years) and sex, what treats it and
    the reason a follow-up visit for it is booked under."""

    key: str
    description: str
    icd10: str
    snomed: str
    # (from age in years, chance) steps: the chance applies from that age until the next step
    chance: tuple[tuple[float, float], ...]
    regimens: tuple[tuple[Med, ...], ...] = ()  # one is chosen; () means no medication
    follow_up: str = ""
    sex: str = ""  # "female" / "male" when only one sex has it
    until: float = 200  # no new cases at or beyond this age


LISINOPRIL = Med("Lisinopril 10 mg tablet", "29046", "10 mg", "oral", "once daily")
AMLODIPINE = Med("Amlodipine 5 mg tablet", "17767", "5 mg", "oral", "once daily")
LOSARTAN = Med("Losartan 50 mg tablet", "52175", "50 mg", "oral", "once daily")
HCTZ = Med("Hydrochlorothiazide 25 mg tablet", "5487", "25 mg", "oral", "once daily")
METFORMIN = Med("Metformin 500 mg tablet", "6809", "500 mg", "oral", "twice daily with meals")
METFORMIN_1000 = Med("Metformin 1000 mg tablet", "6809", "1000 mg", "oral", "twice daily")
GLARGINE = Med(
    "Insulin glargine 100 units/mL pen", "274783", "20 units", "subcutaneous", "at bedtime"
)
LISPRO = Med(
    "Insulin lispro 100 units/mL pen", "86009", "per sliding scale", "subcutaneous", "with meals"
)
ATORVASTATIN = Med("Atorvastatin 20 mg tablet", "83367", "20 mg", "oral", "once daily at bedtime")
SIMVASTATIN = Med("Simvastatin 20 mg tablet", "36567", "20 mg", "oral", "once daily in the evening")
LEVOTHYROXINE = Med(
    "Levothyroxine 50 mcg tablet", "10582", "50 mcg", "oral", "once daily before breakfast"
)
OMEPRAZOLE = Med("Omeprazole 20 mg capsule", "7646", "20 mg", "oral", "once daily before breakfast")
SERTRALINE = Med("Sertraline 50 mg tablet", "36437", "50 mg", "oral", "once daily")
ESCITALOPRAM = Med("Escitalopram 10 mg tablet", "321988", "10 mg", "oral", "once daily")
ALBUTEROL = Med(
    "Albuterol HFA 90 mcg/actuation inhaler", "435", "2 puffs", "inhaled", "every 4 hours as needed"
)
FLUTICASONE_INH = Med(
    "Fluticasone HFA 44 mcg/actuation inhaler", "41126", "2 puffs", "inhaled", "twice daily"
)
MONTELUKAST = Med(
    "Montelukast 5 mg chewable tablet", "88249", "5 mg", "oral", "once daily at bedtime"
)
CETIRIZINE = Med("Cetirizine 10 mg tablet", "20610", "10 mg", "oral", "once daily")
LORATADINE = Med("Loratadine 10 mg tablet", "28889", "10 mg", "oral", "once daily")
HYDROCORTISONE = Med("Hydrocortisone 2.5% cream", "5492", "thin layer", "topical", "twice daily")
TRIAMCINOLONE = Med("Triamcinolone 0.1% ointment", "10759", "thin layer", "topical", "twice daily")
METHYLPHENIDATE = Med("Methylphenidate ER 18 mg tablet", "6901", "18 mg", "oral", "every morning")
TIOTROPIUM = Med(
    "Tiotropium 18 mcg inhalation capsule", "69120", "1 capsule", "inhaled", "once daily"
)
APIXABAN = Med("Apixaban 5 mg tablet", "1364430", "5 mg", "oral", "twice daily")
METOPROLOL = Med("Metoprolol tartrate 25 mg tablet", "6918", "25 mg", "oral", "twice daily")
ACETAMINOPHEN = Med(
    "Acetaminophen 500 mg tablet", "161", "1000 mg", "oral", "every 8 hours as needed for pain"
)
ALENDRONATE = Med("Alendronate 70 mg tablet", "46041", "70 mg", "oral", "once weekly")
VITAMIN_D = Med(
    "Cholecalciferol (vitamin D3) 1000 unit tablet", "2418", "1000 units", "oral", "once daily"
)
VITAMIN_D_2000 = Med(
    "Cholecalciferol (vitamin D3) 2000 unit tablet", "2418", "2000 units", "oral", "once daily"
)
TAMSULOSIN = Med("Tamsulosin 0.4 mg capsule", "77492", "0.4 mg", "oral", "once daily at bedtime")
DONEPEZIL = Med("Donepezil 5 mg tablet", "135447", "5 mg", "oral", "once daily at bedtime")
FUROSEMIDE = Med("Furosemide 20 mg tablet", "4603", "20 mg", "oral", "once daily")
ASPIRIN_81 = Med("Aspirin 81 mg chewable tablet", "1191", "81 mg", "oral", "once daily")
SUMATRIPTAN = Med(
    "Sumatriptan 50 mg tablet",
    "37418",
    "50 mg",
    "oral",
    "at migraine onset; may repeat once in 2 hours",
)
FERROUS_SULFATE = Med("Ferrous sulfate 325 mg tablet", "24947", "325 mg", "oral", "once daily")
IBUPROFEN = Med(
    "Ibuprofen 400 mg tablet", "5640", "400 mg", "oral", "every 6 hours as needed with food"
)
PEG_3350 = Med(
    "Polyethylene glycol 3350 powder", "221147", "17 g", "oral", "once daily in 8 oz water"
)
GABAPENTIN = Med("Gabapentin 300 mg capsule", "25480", "300 mg", "oral", "three times daily")

# Rough US prevalences by age (CDC NHANES, NHIS and MMWR summaries), enough for a plausible mix.
PROBLEMS: tuple[Problem, ...] = (
    Problem(
        "htn",
        "Essential (primary) hypertension",
        "I10",
        "38341003",
        ((18, 0.06), (40, 0.3), (65, 0.6)),
        ((LISINOPRIL,), (AMLODIPINE,), (LOSARTAN,), (LISINOPRIL, HCTZ), (AMLODIPINE, LOSARTAN)),
        "Blood pressure follow-up",
    ),
    Problem(
        "t2dm",
        "Type 2 diabetes mellitus without complications",
        "E11.9",
        "44054006",
        ((18, 0.02), (40, 0.12), (65, 0.25)),
        ((METFORMIN,), (METFORMIN,), (METFORMIN_1000,), (METFORMIN_1000, GLARGINE)),
        "Diabetes follow-up, A1c",
    ),
    Problem(
        "hld",
        "Hyperlipidemia, unspecified",
        "E78.5",
        "55822004",
        ((30, 0.06), (45, 0.25), (65, 0.45)),
        ((ATORVASTATIN,), (ATORVASTATIN,), (SIMVASTATIN,), ()),
        "Cholesterol follow-up",
    ),
    Problem(
        "hypothyroid",
        "Hypothyroidism, unspecified",
        "E03.9",
        "40930008",
        ((20, 0.03), (50, 0.08)),
        ((LEVOTHYROXINE,),),
        "Thyroid follow-up, TSH",
    ),
    Problem(
        "gerd",
        "Gastro-esophageal reflux disease without esophagitis",
        "K21.9",
        "235595009",
        ((18, 0.06), (50, 0.12)),
        ((OMEPRAZOLE,), ()),
        "Heartburn follow-up",
    ),
    Problem(
        "depression",
        "Depression, unspecified",
        "F32.A",
        "35489007",
        ((13, 0.04), (18, 0.08)),
        ((SERTRALINE,), (ESCITALOPRAM,), ()),
        "Depression follow-up, PHQ-9",
    ),
    Problem(
        "gad",
        "Generalized anxiety disorder",
        "F41.1",
        "21897009",
        ((13, 0.03), (18, 0.06)),
        ((SERTRALINE,), ()),
        "Anxiety follow-up, GAD-7",
    ),
    Problem(
        "asthma_mild",
        "Mild intermittent asthma, uncomplicated",
        "J45.20",
        "195967001",
        ((2, 0.06), (18, 0.04)),
        ((ALBUTEROL,),),
        "Asthma follow-up",
    ),
    Problem(
        "asthma_persistent",
        "Mild persistent asthma, uncomplicated",
        "J45.30",
        "195967001",
        ((3, 0.03), (18, 0.02)),
        ((ALBUTEROL, FLUTICASONE_INH), (ALBUTEROL, MONTELUKAST)),
        "Asthma follow-up",
    ),
    Problem(
        "rhinitis",
        "Allergic rhinitis, unspecified",
        "J30.9",
        "61582004",
        ((3, 0.08), (18, 0.1)),
        ((CETIRIZINE,), (LORATADINE,), ()),
        "Allergy symptoms",
    ),
    Problem(
        "eczema",
        "Atopic dermatitis, unspecified",
        "L20.9",
        "24079001",
        ((0.2, 0.12), (6, 0.06), (18, 0.02)),
        ((HYDROCORTISONE,), (TRIAMCINOLONE,)),
        "Eczema flare",
    ),
    Problem(
        "adhd",
        "Attention-deficit hyperactivity disorder, combined type",
        "F90.2",
        "406506008",
        ((6, 0.08), (26, 0.02)),
        ((METHYLPHENIDATE,), ()),
        "ADHD medication check",
        until=30,
    ),
    Problem(
        "obesity",
        "Obesity, unspecified",
        "E66.9",
        "414916001",
        ((6, 0.1), (18, 0.2)),
        (),
        "Weight management visit",
    ),
    Problem(
        "copd",
        "Chronic obstructive pulmonary disease, unspecified",
        "J44.9",
        "13645005",
        ((45, 0.04), (65, 0.1)),
        ((TIOTROPIUM, ALBUTEROL), (ALBUTEROL,)),
        "COPD follow-up",
    ),
    Problem(
        "afib",
        "Unspecified atrial fibrillation",
        "I48.91",
        "49436004",
        ((60, 0.04), (75, 0.12)),
        ((APIXABAN, METOPROLOL),),
        "Atrial fibrillation follow-up",
    ),
    Problem(
        "ckd3",
        "Chronic kidney disease, stage 3 unspecified",
        "N18.30",
        "",
        ((60, 0.06), (75, 0.15)),
        (),
        "Kidney function follow-up",
    ),
    Problem(
        "oa_knee",
        "Bilateral primary osteoarthritis of knee",
        "M17.0",
        "",
        ((50, 0.08), (65, 0.2)),
        ((ACETAMINOPHEN,), ()),
        "Knee pain follow-up",
    ),
    Problem(
        "osteoporosis",
        "Age-related osteoporosis without current pathological fracture",
        "M81.0",
        "64859006",
        ((60, 0.15), (75, 0.25)),
        ((ALENDRONATE, VITAMIN_D),),
        "Osteoporosis follow-up",
        sex="female",
    ),
    Problem(
        "bph",
        "Benign prostatic hyperplasia with lower urinary tract symptoms",
        "N40.1",
        "266569009",
        ((55, 0.15), (70, 0.3)),
        ((TAMSULOSIN,),),
        "Urinary symptoms follow-up",
        sex="male",
    ),
    Problem(
        "alzheimer",
        "Alzheimer's disease, unspecified",
        "G30.9",
        "26929004",
        ((75, 0.06), (85, 0.15)),
        ((DONEPEZIL,),),
        "Memory follow-up",
    ),
    Problem(
        "hf",
        "Heart failure, unspecified",
        "I50.9",
        "84114007",
        ((65, 0.04), (80, 0.08)),
        ((FUROSEMIDE, METOPROLOL),),
        "Heart failure follow-up",
    ),
    Problem(
        "cad",
        "Atherosclerotic heart disease of native coronary artery without angina pectoris",
        "I25.10",
        "53741008",
        ((55, 0.05), (70, 0.12)),
        ((ASPIRIN_81, ATORVASTATIN),),
        "Heart follow-up",
    ),
    Problem(
        "migraine",
        "Migraine, unspecified, not intractable, without status migrainosus",
        "G43.909",
        "37796009",
        ((12, 0.06), (50, 0.03)),
        ((SUMATRIPTAN,), (IBUPROFEN,)),
        "Headache follow-up",
    ),
    Problem(
        "ida",
        "Iron deficiency anemia, unspecified",
        "D50.9",
        "87522002",
        ((1, 0.04), (4, 0.01), (15, 0.04), (50, 0.01)),
        ((FERROUS_SULFATE,),),
        "Anemia recheck",
    ),
    Problem(
        "osa",
        "Obstructive sleep apnea (adult) (pediatric)",
        "G47.33",
        "78275009",
        ((40, 0.06),),
        (),
        "Sleep apnea follow-up",
    ),
    Problem(
        "vitd",
        "Vitamin D deficiency, unspecified",
        "E55.9",
        "34713006",
        ((18, 0.05),),
        ((VITAMIN_D_2000,),),
        "Vitamin D recheck",
    ),
    Problem(
        "t1dm",
        "Type 1 diabetes mellitus without complications",
        "E10.9",
        "46635009",
        ((5, 0.005),),
        ((GLARGINE, LISPRO),),
        "Diabetes follow-up, A1c",
        until=40,
    ),
    Problem(
        "pcos",
        "Polycystic ovarian syndrome",
        "E28.2",
        "69878008",
        ((16, 0.05), (45, 0.0)),
        ((METFORMIN,), ()),
        "PCOS follow-up",
        sex="female",
    ),
    Problem("acne", "Acne vulgaris", "L70.0", "", ((12, 0.1), (25, 0.0)), (), "Acne follow-up"),
    Problem(
        "lbp",
        "Low back pain, unspecified",
        "M54.50",
        "279039007",
        ((25, 0.05),),
        ((IBUPROFEN,), (ACETAMINOPHEN,)),
        "Back pain follow-up",
    ),
    Problem(
        "constipation",
        "Constipation, unspecified",
        "K59.00",
        "",
        ((1, 0.05), (11, 0.01), (70, 0.08)),
        ((PEG_3350,),),
        "Constipation follow-up",
    ),
    Problem(
        "smoker",
        "Nicotine dependence, cigarettes, uncomplicated",
        "F17.210",
        "",
        ((18, 0.12), (65, 0.08)),
        (),
        "Tobacco cessation counseling",
    ),
    Problem(
        "neuropathy",
        "Polyneuropathy, unspecified",
        "G62.9",
        "",
        ((55, 0.03),),
        ((GABAPENTIN,),),
        "Neuropathy follow-up",
    ),
)
PROBLEM_BY_KEY = {p.key: p for p in PROBLEMS}

# Problems that resolve: past, inactive entries on the problem list.
RESOLVED = (
    # description, ICD-10-CM, from age, to age
    ("Otitis media, unspecified, unspecified ear", "H66.90", 0.5, 8),
    ("Streptococcal pharyngitis", "J02.0", 3, 18),
    ("Pneumonia, unspecified organism", "J18.9", 1, 100),
    ("Acute bronchitis, unspecified", "J20.9", 5, 100),
    ("Urinary tract infection, site not specified", "N39.0", 2, 100),
    ("Sprain of unspecified ligament of right ankle, initial encounter", "S93.401A", 8, 70),
    ("Acute sinusitis, unspecified", "J01.90", 5, 100),
)


@dataclass(frozen=True)
class AllergyKind:
    substance: str
    code_system: str
    code: str
    category: str  # FHIR AllergyIntolerance.category
    reactions: tuple[tuple[str, str], ...]  # (reaction, criticality)
    children: bool = True  # plausible in children
    rxnorm_ingredient: str = ""  # a medication this allergy rules out


ALLERGY_KINDS: tuple[AllergyKind, ...] = (
    AllergyKind(
        "Penicillin",
        RXNORM,
        "70618",
        "medication",
        (("hives", "low"), ("rash", "low"), ("anaphylaxis", "high")),
        True,
        "70618",
    ),
    AllergyKind(
        "Amoxicillin", RXNORM, "723", "medication", (("rash", "low"), ("hives", "low")), True, "723"
    ),
    AllergyKind(
        "Sulfamethoxazole (sulfa)",
        RXNORM,
        "10180",
        "medication",
        (("rash", "low"), ("hives", "low"), ("Stevens-Johnson syndrome", "high")),
        True,
    ),
    AllergyKind("Cephalexin", RXNORM, "2231", "medication", (("hives", "low"),), True),
    AllergyKind(
        "Codeine",
        RXNORM,
        "2670",
        "medication",
        (("nausea and vomiting", "low"), ("itching", "low")),
        False,
    ),
    AllergyKind(
        "Ibuprofen",
        RXNORM,
        "5640",
        "medication",
        (("stomach upset", "low"), ("angioedema", "high")),
        False,
        "5640",
    ),
    AllergyKind(
        "Aspirin",
        RXNORM,
        "1191",
        "medication",
        (("wheezing", "high"), ("hives", "low")),
        False,
        "1191",
    ),
    AllergyKind(
        "Lisinopril",
        RXNORM,
        "29046",
        "medication",
        (("cough", "low"), ("angioedema", "high")),
        False,
        "29046",
    ),
    AllergyKind(
        "Peanut",
        SNOMED,
        "256349002",
        "food",
        (("anaphylaxis", "high"), ("hives", "high"), ("lip swelling", "high")),
    ),
    AllergyKind(
        "Cashew nut", SNOMED, "227493005", "food", (("anaphylaxis", "high"), ("hives", "low"))
    ),
    AllergyKind(
        "Cow's milk",
        SNOMED,
        "3718001",
        "food",
        (("vomiting", "low"), ("hives", "low"), ("bloody stools", "low")),
    ),
    AllergyKind("Egg", "", "", "food", (("hives", "low"), ("vomiting", "low"))),
    AllergyKind(
        "Shellfish", "", "", "food", (("throat swelling", "high"), ("hives", "low")), False
    ),
    AllergyKind(
        "Latex",
        SNOMED,
        "111088007",
        "environment",
        (("contact dermatitis", "low"), ("anaphylaxis", "high")),
        False,
    ),
    AllergyKind(
        "Bee stings",
        "",
        "",
        "environment",
        (("anaphylaxis", "high"), ("large local swelling", "low")),
    ),
    AllergyKind("Cat dander", "", "", "environment", (("sneezing, itchy eyes", "low"),)),
    AllergyKind("Adhesive tape", "", "", "environment", (("blistering", "low"),), False),
)

SURGERIES = (
    # description, SNOMED CT procedure, ICD-10-CM status code, from age, chance, sex
    ("Appendectomy", "80146002", "", 8, 0.04, ""),
    ("Cholecystectomy", "38102005", "", 25, 0.06, ""),
    ("Tonsillectomy", "173422009", "", 4, 0.05, ""),
    ("Cesarean section", "11466000", "", 20, 0.12, "female"),
    ("Total knee replacement, right", "609588000", "Z96.651", 55, 0.05, ""),
    ("Cataract extraction with lens implant", "54885007", "Z96.1", 60, 0.12, ""),
    ("Coronary artery bypass graft", "232717009", "Z95.1", 60, 0.02, ""),
    ("Inguinal hernia repair", "44558001", "", 1, 0.03, "male"),
    ("Hysterectomy", "236886002", "", 40, 0.06, "female"),
)

FAMILY_HISTORY = (
    # description, ICD-10-CM "family history of" code, chance
    ("Diabetes mellitus", "Z83.3", 0.25),
    ("Heart disease", "Z82.49", 0.2),
    ("Hypertension", "Z82.49", 0.3),
    ("Breast cancer", "Z80.3", 0.08),
    ("Colon cancer", "Z80.0", 0.06),
    ("Stroke", "Z82.3", 0.08),
    ("Asthma", "Z82.5", 0.1),
    ("Prostate cancer", "Z80.42", 0.05),
    ("Alcohol use disorder", "Z81.1", 0.05),
)
RELATIVES = (
    "mother",
    "father",
    "maternal grandmother",
    "maternal grandfather",
    "paternal grandmother",
    "paternal grandfather",
    "sister",
    "brother",
)

# Springfield, Illinois and the towns around it that send patients to a Springfield clinic.
PLACES = (
    # city, ZIP, weight
    ("Springfield", "62701", 4),
    ("Springfield", "62702", 10),
    ("Springfield", "62703", 8),
    ("Springfield", "62704", 12),
    ("Springfield", "62707", 3),
    ("Springfield", "62711", 6),
    ("Springfield", "62712", 4),
    ("Chatham", "62629", 5),
    ("Rochester", "62563", 3),
    ("Sherman", "62684", 2),
    ("Riverton", "62561", 2),
    ("Auburn", "62615", 2),
    ("Petersburg", "62675", 1),
    ("Pawnee", "62558", 1),
    ("New Berlin", "62670", 1),
    ("Williamsville", "62693", 1),
    ("Pleasant Plains", "62677", 1),
    ("Divernon", "62530", 1),
)
STREETS = (
    "S 6th St",
    "W Washington St",
    "N Grand Ave",
    "S Grand Ave",
    "Wabash Ave",
    "S MacArthur Blvd",
    "Chatham Rd",
    "Stevenson Dr",
    "W Jefferson St",
    "E Cook St",
    "Peoria Rd",
    "N Walnut St",
    "S Dirksen Pkwy",
    "W Monroe St",
    "Clear Lake Ave",
    "Old Jacksonville Rd",
    "Lindbergh Blvd",
    "Koke Mill Rd",
    "Sangamon Ave",
    "N 11th St",
    "S Lincoln Ave",
    "W Lawrence Ave",
    "E Capitol Ave",
    "Toronto Rd",
    "Iles Ave",
    "W Iles Ave",
    "Bruns Ln",
    "Outer Park Dr",
    "Wiggins Ave",
    "N 5th St",
    "S Spring St",
    "E Ash St",
    "Ridgely Ave",
    "Matheny Rd",
    "Woodside Rd",
    "Archer Elevator Rd",
    "W Cherry St",
    "Brandt Dr",
    "Fairhills Ave",
    "Meadowbrook Rd",
)
AREA_CODES = (("217", 20), ("309", 1), ("618", 1), ("312", 1))

MEDICARE_PLANS = (
    # payer name, payer id, plan, weight
    ("Medicare", "", "Original Medicare Part A & B", 5),
    ("Humana", "61101", "Humana Gold Plus (Medicare Advantage HMO)", 2),
    ("UnitedHealthcare", "87726", "AARP Medicare Advantage", 2),
    ("Health Alliance", "", "Health Alliance Medicare Advantage", 1),
)
MEDICARE_SUPPLEMENTS = (
    ("AARP Medicare Supplement", "87726", "Plan G"),
    ("Blue Cross Blue Shield of Illinois", "00621", "Medicare Supplement Plan G"),
)
# HealthChoice Illinois managed-care plans and the fee-for-service program.
MEDICAID_PLANS = (
    ("Illinois Medicaid (HFS)", "", "Fee-for-service", 2),
    ("Meridian Health Plan of Illinois", "", "HealthChoice Illinois", 3),
    ("Blue Cross Community Health Plans", "", "HealthChoice Illinois", 3),
    ("Aetna Better Health of Illinois", "", "HealthChoice Illinois", 2),
    ("Molina Healthcare of Illinois", "", "HealthChoice Illinois", 2),
)
COMMERCIAL_PLANS = (
    ("Blue Cross Blue Shield of Illinois", "00621", "PPO", "XOF", 6),
    ("Blue Cross Blue Shield of Illinois", "00621", "Blue Choice", "XOD", 2),
    ("Health Alliance", "", "HMO", "HA", 4),
    ("UnitedHealthcare", "87726", "Choice Plus", "", 3),
    ("Aetna", "60054", "Open Access Managed Choice", "W", 2),
    ("Cigna", "62308", "Open Access Plus", "U", 2),
)

WELL_CHILD_AGES = (
    # age in days at the visit, its name (AAP Bright Futures periodicity schedule)
    (4, "3-5 day newborn visit"),
    (30, "1 month well-child visit"),
    (61, "2 month well-child visit"),
    (122, "4 month well-child visit"),
    (183, "6 month well-child visit"),
    (274, "9 month well-child visit"),
    (365, "12 month well-child visit"),
    (456, "15 month well-child visit"),
    (548, "18 month well-child visit"),
    (730, "2 year well-child visit"),
    (913, "30 month well-child visit"),
)

ACUTE_REASONS = {
    "infant": (
        "Fever",
        "Congestion and cough",
        "Fussy, pulling at ear",
        "Rash on cheeks",
        "Vomiting and diarrhea",
        "Poor feeding",
        "Diaper rash",
    ),
    "child": (
        "Fever and cough x2 days",
        "Ear pain",
        "Sore throat",
        "Rash",
        "Pink eye",
        "Vomiting and diarrhea",
        "Runny nose and cough",
        "Wheezing",
        "Stomach ache",
        "Sports physical",
    ),
    "adult": (
        "Cough x1 week",
        "Sore throat",
        "Low back pain",
        "Burning with urination",
        "Headache",
        "Rash on arm",
        "Knee pain",
        "Sinus pressure",
        "Flu-like symptoms",
        "Medication refill",
        "Ankle injury",
        "Dizziness",
        "Fatigue",
    ),
    "elder": (
        "Fall at home",
        "Shortness of breath",
        "Dizziness",
        "Swelling in legs",
        "Cough x1 week",
        "Medication review",
        "Burning with urination",
        "Fatigue",
        "Joint pain",
    ),
}
