"""A Python client generated from the served document (openapi-python-client) drives the real
service: region, contractor and job, a recommendation and its result, the assignment, the audit
record, and typed problems (`Problem`) for a bad request, a missing job and a missing token.
Every answer is parsed by the generated code into the generated models; nothing is hand-written
about the wire format here."""

import datetime
import time
import uuid

WAIT_S = 15


def in_hours(hours):
    return (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(hours=hours)).replace(microsecond=0)


def test_the_generated_python_client_runs_the_dispatcher_flow(service, dispatch_client):
    from dispatch_client import AuthenticatedClient, Client
    from dispatch_client.api.assignments import create_assignment
    from dispatch_client.api.audit import get_audit_record
    from dispatch_client.api.contractors import create_contractor
    from dispatch_client.api.jobs import create_job, get_job
    from dispatch_client.api.recommendations import ask_recommendation, get_recommendation
    from dispatch_client.api.regions import create_region, list_regions
    from dispatch_client.models import (
        Assignment,
        AssignmentRequest,
        AssignmentSource,
        AuditRecord,
        Contractor,
        GeoPoint,
        Job,
        JobStatus,
        NewContractor,
        NewJob,
        Priority,
        Problem,
        RecommendationAccepted,
        RecommendationRecord,
        RecommendationRequest,
        RecommendationStatus,
        Region,
        RequiredSkill,
        Skill,
        Weekday,
        WorkingHours,
    )

    admin = AuthenticatedClient(base_url=service.base, token=service.token("--role", "admin", "--sub", "py-admin"))
    dispatcher = AuthenticatedClient(
        base_url=service.base,
        token=service.token("--role", "dispatcher", "--region", "north", "--sub", "py-dispatcher"),
    )

    region = create_region.sync_detailed(
        client=admin, body=Region(id="north", name="North", time_zone="Europe/Oslo"), idempotency_key="north-1"
    )
    assert region.status_code == 201, region.content
    assert isinstance(region.parsed, Region) and region.parsed.time_zone == "Europe/Oslo"

    contractor = create_contractor.sync_detailed(
        client=admin,
        body=NewContractor(
            name="Ola Nordmann",
            region="north",
            skills=[Skill(name="electrical", level=4)],
            location=GeoPoint(lat=59.91, lon=10.75),
            working_hours=[WorkingHours(day=day, start="00:00", end="23:59") for day in Weekday],
            rating=4.8,
            max_jobs_per_day=6,
            active=True,
        ),
    )
    assert contractor.status_code == 201, contractor.content
    assert isinstance(contractor.parsed, Contractor)
    contractor_id = contractor.parsed.id

    new_job = NewJob(
        region="north",
        title="Tripped breaker",
        location=GeoPoint(lat=59.92, lon=10.76),
        required_skills=[RequiredSkill(name="electrical", min_level=2)],
        priority=Priority.EMERGENCY,
        window_start_utc=in_hours(2),
        window_end_utc=in_hours(8),
        duration_minutes=60,
    )
    job = create_job.sync_detailed(client=dispatcher, body=new_job)
    assert job.status_code == 201, job.content
    assert isinstance(job.parsed, Job) and job.parsed.status == JobStatus.OPEN

    accepted = ask_recommendation.sync_detailed(
        client=dispatcher, body=RecommendationRequest(job_id=job.parsed.id, limit=5)
    )
    assert accepted.status_code == 202, accepted.content
    assert isinstance(accepted.parsed, RecommendationAccepted)
    assert accepted.parsed.status == RecommendationStatus.PENDING

    # Computed in the background: read it until it is no longer pending, within a deadline.
    deadline = time.monotonic() + WAIT_S
    while True:
        record = get_recommendation.sync(client=dispatcher, id=accepted.parsed.request_id)
        assert isinstance(record, RecommendationRecord), record
        if record.status != RecommendationStatus.PENDING:
            break
        assert time.monotonic() < deadline, f"still pending after {WAIT_S} s"
        time.sleep(0.05)
    assert record.status == RecommendationStatus.READY, record.error
    best = record.candidates[0]
    assert best.rank == 1 and best.contractor_id == contractor_id

    assignment = create_assignment.sync_detailed(
        client=dispatcher,
        body=AssignmentRequest(
            job_id=job.parsed.id,
            contractor_id=best.contractor_id,
            start_utc=best.start_utc,
            end_utc=best.end_utc,
            request_id=record.request_id,
        ),
    )
    assert assignment.status_code == 201, assignment.content
    assert isinstance(assignment.parsed, Assignment)
    assert assignment.parsed.source == AssignmentSource.MANUAL
    assert assignment.parsed.audit_id == record.audit_id

    audit = get_audit_record.sync(client=dispatcher, id=assignment.parsed.audit_id)
    assert isinstance(audit, AuditRecord), audit
    assert audit.decision.contractor_id == contractor_id
    assert audit.decision.rank == 1
    assert audit.decision.decided_by == "py-dispatcher"

    # A bad request: the answer parses into the generated Problem, naming the field.
    new_job.duration_minutes = 0
    invalid = create_job.sync_detailed(client=dispatcher, body=new_job)
    assert invalid.status_code == 422
    assert invalid.headers["content-type"].startswith("application/problem+json")
    assert isinstance(invalid.parsed, Problem), invalid.content
    assert invalid.parsed.type_ == "urn:dispatch:problem:validation"
    assert invalid.parsed.field == "durationMinutes"

    missing = get_job.sync_detailed(client=dispatcher, id=uuid.uuid4())
    assert missing.status_code == 404
    assert isinstance(missing.parsed, Problem) and missing.parsed.type_ == "urn:dispatch:problem:not-found"

    anonymous = list_regions.sync_detailed(client=Client(base_url=service.base))
    assert anonymous.status_code == 401
    assert isinstance(anonymous.parsed, Problem)
    assert anonymous.parsed.type_ == "urn:dispatch:problem:unauthenticated"
