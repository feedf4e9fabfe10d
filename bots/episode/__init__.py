"""What the discharge bot, the follow-up bot and the MSSanté bridge share about one patient
episode (a patient room): the discharge mode, the readmission-risk level, the lettre de liaison
seen leaving by mail. Rules in docs/CLINICAL.md."""
