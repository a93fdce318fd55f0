//! The accounting stage, between route planning and the first attempt: the caller's key may
//! use the model, its limits admit the request and its user's balance covers it (reserving
//! the estimated cost against budgets and balance), and a [`Meter`] goes onto the exchange
//! to record usage and settle (and charge the balance) when the request ends.

use wire::Usage;

use crate::auth::Principal;
use crate::error::GatewayError;
use crate::limits::RateHeaders;
use crate::routing::plan::{Estimate, Plan};
use crate::state::AppState;
use crate::telemetry::Exchange;
use crate::usage::{Meter, cost_micros};

/// Admits the request for `principal`; on success the exchange carries its meter and the
/// rate-limit headers (when the caller has limits) come back for the response.
pub async fn admit(
    state: &AppState,
    principal: &Principal,
    requested: &str,
    plan: &Plan<'_>,
    estimate: Estimate,
    exchange: &mut Exchange,
) -> Result<Option<RateHeaders>, GatewayError> {
    let services = state.services();
    let key = principal.key();
    if let Some(key) = key
        && !key.allows(requested)
    {
        return Err(GatewayError::Forbidden(format!(
            "this API key may not use the model '{requested}'"
        )));
    }
    let mut admission = None;
    let mut headers = None;
    if let Some(key) = key
        && (!key.subject.is_unlimited() || services.limiter.is_billed(&key.user_id))
    {
        // The most the request can cost on its first choice, from the estimate.
        let guess = Usage {
            input: estimate.input_tokens,
            output: estimate.output_tokens,
            ..Usage::default()
        };
        let cost = plan
            .targets
            .first()
            .and_then(|t| t.provider.models.get(t.model))
            .and_then(|m| cost_micros(&guess, &m.prices))
            .unwrap_or(0);
        let (a, h) = services
            .limiter
            .admit(&key.subject, guess.total(), cost)
            .await
            .map_err(GatewayError::Limited)?;
        admission = Some(a);
        headers = Some(h);
    }
    if admission.is_some() && exchange.meter.is_none() {
        exchange.meter = Some(meter(state));
    }
    if let Some(meter) = exchange.meter.as_mut() {
        meter.admission = admission;
        meter.estimated_input = estimate.input_tokens;
    }
    Ok(headers)
}

/// A meter with nothing admitted yet, for a request on which usage is recorded.
pub fn meter(state: &AppState) -> Meter {
    let services = state.services();
    Meter {
        usage: services.usage.clone(),
        limiter: services.limiter.clone(),
        admission: None,
        prices: None,
        key_id: None,
        user_id: None,
        tasks: services.tasks.clone(),
        store: services.store.clone(),
        estimated_input: 0,
        relayed: Default::default(),
    }
}

/// Names the caller on the usage record.
pub fn identify(principal: &Principal, exchange: &mut Exchange) {
    if let (Some(meter), Some(key)) = (exchange.meter.as_mut(), principal.key()) {
        meter.key_id = Some(key.id.clone());
        meter.user_id = Some(key.user_id.clone());
    }
}
