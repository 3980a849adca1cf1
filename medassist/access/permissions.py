from enum import StrEnum


class Permission(StrEnum):
    """What a person may do. Roles grant sets of these (roles.py); can() decides (policies.py)."""

    VIEW_PATIENT = "patient.view"
    REGISTER_PATIENT = "patient.register"
    EDIT_PATIENT = "patient.edit"
    PRINT_CHART = "patient.print"
    VIEW_ENCOUNTER = "encounter.view"
    EDIT_ENCOUNTER = "encounter.edit"
    EMERGENCY_ACCESS = "patient.emergency_access"
    VIEW_AUDIT = "audit.view"
    EXPORT_AUDIT = "audit.export"
    MANAGE_STAFF = "staff.manage"
    # The clinic day (scheduling, flow board, rooming, checkout)
    VIEW_SCHEDULE = "schedule.view"
    BOOK_APPOINTMENT = "schedule.book"
    MANAGE_SCHEDULE = "schedule.manage"  # templates, blocked time, appointment types, rooms
    VIEW_FLOW_BOARD = "flow.view"
    CHECK_IN = "visit.check_in"
    ROOM_PATIENT = "visit.room"  # rooming worklist: complaint, allergies, meds, histories
    SEE_PATIENT = "visit.see"  # provider: takes the patient, hands over to checkout
    CHECK_OUT = "visit.check_out"
    CLEAN_ROOM = "room.clean"
    VIEW_CLINIC_REPORTS = "reports.view"  # cycle times
    # Vital signs and their critical-value alerts
    RECORD_VITALS = "vitals.record"
    ACKNOWLEDGE_ALERT = "alert.acknowledge"
    MANAGE_VITALS_POLICY = "vitals.policy"  # the clinic's critical-value thresholds and timers
    # Immunizations: giving vaccines, the fridge, standing orders and the registry
    VIEW_IMMUNIZATIONS = "immunization.view"
    ADMINISTER_VACCINE = "vaccine.administer"  # under a standing order or a provider's order
    ORDER_VACCINE = "vaccine.order"  # a provider's order, including an off-schedule dose
    RECORD_HISTORICAL_DOSE = "immunization.historical"
    MANAGE_VACCINE_STOCK = "vaccine.stock"
    MANAGE_STANDING_ORDERS = "vaccine.standing_orders"
    REVIEW_REGISTRY = "registry.review"  # the registry's errors, for the clinic manager
    MANAGE_IMMUNIZATION_SETTINGS = "immunization.settings"  # observation time, MAs' scope
    # Lab orders, specimens and results (a provider orders and reviews; the MA collects and
    # tells the patient only what the provider released)
    ORDER_LABS = "lab.order"
    VIEW_LAB_ORDERS = "lab.view"  # orders, specimens and their trail; released results
    COLLECT_SPECIMEN = "specimen.collect"  # collect, label, process, package, hand to courier
    REVIEW_LAB_RESULTS = "lab.review"  # values and flags before release; release; critical alerts
    MANAGE_LAB_CATALOG = "lab.catalog"  # the clinic's test catalog and performing labs
    MANAGE_LAB_INTERFACE = "lab.interface"  # the HL7 error queue and the lab connection
    # Point-of-care testing (CLIA-waived)
    RUN_POCT = "poct.run"  # patient tests, with the day's QC and a current competency
    RUN_QC = "poct.qc"  # quality-control runs and corrective actions
    MANAGE_POCT = "poct.manage"  # the test menu, kit and control lots, competencies, QC log
