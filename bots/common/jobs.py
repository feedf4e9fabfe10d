"""Names of the durable jobs one bot plans and another runs (`scheduled_jobs.kind`)."""

# The follow-up bot's job that takes a validated discharge up: the discharge bot plans it in the
# validation's transaction (when the follow-up bot runs on the account), the follow-up bot runs it.
HANDOVER_JOB = "followup.start"
