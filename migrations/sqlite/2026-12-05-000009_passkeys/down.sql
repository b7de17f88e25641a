DROP TABLE webauthn_challenges;
DROP TABLE passkeys;
DELETE FROM mfa_factors WHERE kind = 'webauthn';
