DROP INDEX verification_codes_digest;
DELETE FROM verification_codes WHERE purpose = 'mfa_challenge';
DROP TABLE recovery_codes;
DROP TABLE mfa_factors;
ALTER TABLE sessions DROP COLUMN amr;
ALTER TABLE sessions DROP COLUMN aal;
