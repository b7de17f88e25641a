//! The service every use case hangs off: the adapters plus the policy.

use std::time::Duration;

use crate::error::InfraError;
use crate::mail_templates::MailTemplates;
use crate::model::{Email, Enrichment, RequestContext, Timestamp, User};
use crate::policy::Policy;
use crate::ports::{
    AttemptDecision, Change, Clock, DeviceDetector, GeoLookup, PasswordAttempts, Permit, Ports, RateDecision,
    RateLimiter, RateRule,
};

/// The adapters a service is built from.
pub struct Deps<P: Ports> {
    /// Persistence.
    pub store: P::Store,
    /// Password hashing.
    pub hasher: P::Hasher,
    /// Access tokens.
    pub tokens: P::Tokens,
    /// Keyed hashing of codes and tokens.
    pub secrets: P::Secrets,
    /// Randomness.
    pub random: P::Random,
    /// Time.
    pub clock: P::Clock,
    /// IP geolocation.
    pub geo: P::Geo,
    /// User-agent parsing.
    pub devices: P::Devices,
    /// Encryption of second-factor secrets at rest.
    pub cipher: P::Cipher,
    /// The WebAuthn ceremonies of passkeys.
    pub passkeys: P::Passkeys,
    /// Breached-password lookups.
    pub breaches: P::Breaches,
}

/// The Portcullis domain service. Cheap to share behind an `Arc`; every method is a use case.
pub struct Portcullis<P: Ports> {
    pub(crate) store: P::Store,
    pub(crate) hasher: P::Hasher,
    pub(crate) tokens: P::Tokens,
    pub(crate) secrets: P::Secrets,
    pub(crate) random: P::Random,
    pub(crate) clock: P::Clock,
    pub(crate) geo: P::Geo,
    pub(crate) devices: P::Devices,
    pub(crate) cipher: P::Cipher,
    pub(crate) passkeys: P::Passkeys,
    pub(crate) breaches: P::Breaches,
    pub(crate) policy: Policy,
    pub(crate) templates: MailTemplates,
}

/// Outcome of a rate check inside a use case.
pub(crate) enum Limit {
    Allowed(Permit),
    Limited(Duration),
}

impl From<RateDecision> for Limit {
    /// A refusal advertises a wait of at least a second.
    fn from(decision: RateDecision) -> Self {
        match decision {
            RateDecision::Allowed(p) => Limit::Allowed(p),
            RateDecision::Limited { retry_after } => Limit::Limited(retry_after.max(Duration::from_secs(1))),
        }
    }
}

/// A reservation's answer as the use cases take it: `Busy` (the room stayed held by
/// parallel checks for all of the policy's patience) is a 503 to retry shortly.
pub(crate) fn attempt_limit(decision: AttemptDecision) -> Result<Limit, InfraError> {
    match decision {
        AttemptDecision::Reserved(p) => Ok(Limit::Allowed(p)),
        AttemptDecision::Limited { retry_after } => Ok(Limit::Limited(retry_after.max(Duration::from_secs(1)))),
        AttemptDecision::Busy => Err(InfraError::Busy { retry_after: Duration::from_secs(1) }),
    }
}

/// The rate key under which failed password attempts for `email` count: logins and password
/// confirmations share it.
pub(crate) fn login_key(email: &Email) -> String {
    format!("login:{email}")
}

/// Forgets the failed password attempts of `email`: proof of control of the account (a
/// successful login, a password reset, a verified address) lifts its lockout (NIST SP
/// 800-63B rev. 4 §3.2.2), so nobody can keep an owner locked out with a few wrong guesses.
pub(crate) fn clear_login_failures(email: &Email, at: Timestamp) -> Change {
    Change::ClearFailures { key: login_key(email), at }
}

impl<P: Ports> Portcullis<P> {
    /// Builds the service from its adapters and the numbers it enforces. The built-in mail
    /// templates are used until [`Self::with_mail_templates`] replaces them.
    ///
    /// ```
    /// use portcullis_domain::{Policy, Portcullis};
    /// let (deps, _kit) = portcullis_testing::test_deps();
    /// let policy = Policy { login_failures_per_account: 3, ..Policy::default() };
    /// let auth = Portcullis::new(deps, policy);
    /// assert_eq!(auth.policy().login_failures_per_account, 3);
    /// ```
    pub fn new(deps: Deps<P>, policy: Policy) -> Self {
        Self {
            store: deps.store,
            hasher: deps.hasher,
            tokens: deps.tokens,
            secrets: deps.secrets,
            random: deps.random,
            clock: deps.clock,
            geo: deps.geo,
            devices: deps.devices,
            cipher: deps.cipher,
            passkeys: deps.passkeys,
            breaches: deps.breaches,
            policy,
            templates: MailTemplates::default(),
        }
    }

    /// The service rendering its mail with `templates` instead of the built-in ones (see
    /// [`MailTemplates::with_overrides`]).
    ///
    /// ```
    /// use portcullis_domain::Policy;
    /// use portcullis_domain::mail_templates::MailTemplates;
    ///
    /// let plain = MailTemplates::with_overrides([(
    ///     "verification_code.txt.j2".to_owned(),
    ///     "{{ name }}, your code is {{ code }}. It expires in {{ lifetime }}.".to_owned(),
    /// )])
    /// .expect("valid templates");
    /// let (service, _) = portcullis_testing::test_service(Policy::default());
    /// let service = service.with_mail_templates(plain);
    /// # let _ = service;
    /// ```
    #[must_use]
    pub fn with_mail_templates(mut self, templates: MailTemplates) -> Self {
        self.templates = templates;
        self
    }

    /// The policy in force.
    pub fn policy(&self) -> &Policy {
        &self.policy
    }

    /// The clock.
    pub fn now(&self) -> Timestamp {
        self.clock.now()
    }

    /// IP, user agent, device and location of a request.
    pub fn enrich(&self, ctx: &RequestContext) -> Enrichment {
        Enrichment {
            ip_address: ctx.ip,
            user_agent: ctx.user_agent.clone(),
            device: ctx.user_agent.as_deref().map(|ua| self.devices.detect(ua)).unwrap_or_default(),
            location: self.geo.locate(ctx.ip),
        }
    }

    pub(crate) async fn limit(&self, key: String, rules: Vec<RateRule>, now: Timestamp) -> Result<Limit, InfraError> {
        Ok(Limit::from(self.store.acquire(&key, rules, now).await?))
    }

    /// The mail allowance of `email` (the `resend:` key, shared by registration and resend)
    /// and the address's account, in one store call
    /// ([`PasswordAttempts::acquire_reading_user`]).
    pub(crate) async fn mail_allowance_reading_user(
        &self,
        email: &Email,
        now: Timestamp,
    ) -> Result<(Limit, Option<User>), InfraError> {
        let key = format!("resend:{email}");
        let (decision, user) = self.store.acquire_reading_user(email, &key, self.policy.resend_rules(), now).await?;
        Ok((Limit::from(decision), user))
    }

    /// The per-IP limit on unauthenticated calls; `Err(Some(wait))` when over it.
    pub(crate) async fn limit_ip(&self, ctx: &RequestContext, now: Timestamp) -> Result<Option<Duration>, InfraError> {
        match self.limit(format!("ip:{}", ctx.ip), self.policy.ip_rules(), now).await? {
            Limit::Allowed(_) => Ok(None),
            Limit::Limited(wait) => Ok(Some(wait)),
        }
    }

    /// Reserves a password check for `email` under the failed-attempt limit: `Limited` when
    /// failures fill it, a reservation otherwise (waiting while parallel checks hold the room;
    /// `Busy` when they outlast the policy's patience). A reservation is resolved with
    /// [`Self::release`] when the password was right or never checked, and with
    /// [`Self::count_failure`] when it was wrong.
    pub(crate) async fn reserve_password_attempt(&self, email: &Email, now: Timestamp) -> Result<Limit, InfraError> {
        let decision = self
            .store
            .reserve_attempt(
                &login_key(email),
                self.policy.login_rules(),
                now,
                self.attempt_hold(),
                self.policy.login_attempt_patience,
            )
            .await?;
        attempt_limit(decision)
    }

    /// [`Self::reserve_password_attempt`] for a login, which does not know the account yet:
    /// the account of `email` comes back with the decision, from the same store call (see
    /// [`PasswordAttempts`]).
    pub(crate) async fn reserve_login_attempt(
        &self,
        email: &Email,
        now: Timestamp,
    ) -> Result<(Limit, Option<User>), InfraError> {
        let (decision, user) = self
            .store
            .reserve_attempt_reading_user(
                email,
                &login_key(email),
                self.policy.login_rules(),
                now,
                self.attempt_hold(),
                self.policy.login_attempt_patience,
            )
            .await?;
        Ok((attempt_limit(decision)?, user))
    }

    /// How long a reservation holds its room: it must count before it could leave the
    /// window unseen.
    fn attempt_hold(&self) -> Duration {
        self.policy.login_attempt_hold.min(self.policy.login_failure_window)
    }

    /// Counts a reserved password attempt as failed, from now.
    pub(crate) async fn count_failure(&self, permit: Permit) -> Result<(), InfraError> {
        Ok(self.store.confirm_failure(permit, self.now()).await?)
    }

    /// Releases a permit, logging nothing on failure: the worst case is one extra counted event.
    pub(crate) async fn release(&self, permit: Permit) -> Result<(), InfraError> {
        Ok(self.store.release(permit).await?)
    }
}
