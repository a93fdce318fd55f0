//! The route plan for one request: the targets a requested name stands for, in the order the
//! strategy chose, with the health state each attempt consults and updates.

use std::sync::Arc;
use std::time::Duration;

use super::health::{HealthRegistry, TargetHealth};
use super::strategy::{Candidate, order};
use super::{Resolved, RetryOn, RetryPolicy, Strategy, resolve};
use crate::config::Config;
use crate::error::GatewayError;
use crate::providers::Provider;

/// How big the request looks, for the `cost` strategy.
#[derive(Debug, Clone, Copy, Default)]
pub struct Estimate {
    pub input_tokens: u64,
    pub output_tokens: u64,
}

/// One target of the plan.
pub struct PlanTarget<'a> {
    pub provider: &'a Arc<Provider>,
    pub model: &'a str,
    /// Applied where the client set none.
    pub params: Option<&'a serde_json::Map<String, serde_json::Value>>,
    /// Applied whatever the client set.
    pub overrides: Option<&'a serde_json::Map<String, serde_json::Value>>,
    pub health: Arc<TargetHealth>,
    pub context_window: Option<u64>,
}

pub struct Plan<'a> {
    /// What the `x-switchboard-route` header says: `direct`, `virtual`, `wildcard`, `bare`,
    /// or `combo=NAME; strategy=S`.
    pub label: String,
    pub targets: Vec<PlanTarget<'a>>,
    pub max_attempts: u32,
    /// The combo's deadline; a single target is bounded by its provider's total timeout.
    pub deadline: Option<Duration>,
    pub retry_on: RetryOn,
    pub retry: RetryPolicy,
}

pub fn plan<'a>(
    config: &'a Config,
    health: &HealthRegistry,
    requested: &'a str,
    estimate: Estimate,
) -> Result<Plan<'a>, GatewayError> {
    let context_of = |p: &Provider, m: &str| p.models.get(m).and_then(|i| i.context_window);
    match resolve(config, requested)? {
        Resolved::Route(route) => Ok(Plan {
            label: route.kind.as_str().to_owned(),
            targets: vec![PlanTarget {
                provider: route.provider,
                model: route.upstream_model,
                params: route.params,
                overrides: None,
                health: health.target(&route.provider.id, route.upstream_model),
                context_window: context_of(route.provider, route.upstream_model),
            }],
            // Retries, plus one more per extra credential and one OAuth2 refresh.
            max_attempts: config.retry.per_target
                + u32::try_from(route.provider.credentials.len()).unwrap_or(0),
            deadline: None,
            retry_on: RetryOn::ALL,
            retry: config.retry,
        }),
        Resolved::Combo(combo) => {
            let mut targets = Vec::with_capacity(combo.targets.len());
            let mut cands = Vec::with_capacity(combo.targets.len());
            for t in &combo.targets {
                let Some(provider) = config.provider(&t.provider) else {
                    continue;
                };
                let h = health.target(&provider.id, &t.model);
                let info = provider.models.get(&t.model);
                cands.push(Candidate {
                    weight: t.weight,
                    in_flight: h.in_flight(),
                    ttft: h.ttft.get(),
                    cost: info.and_then(|i| {
                        let p = i.prices;
                        Some(
                            u128::from(p.input?) * u128::from(estimate.input_tokens)
                                + u128::from(p.output?) * u128::from(estimate.output_tokens),
                        )
                    }),
                    quota_exhausted: h.quota.is_exhausted(),
                    available: h.breaker.is_available(),
                });
                targets.push(PlanTarget {
                    provider,
                    model: &t.model,
                    params: Some(&t.params),
                    overrides: Some(&t.overrides),
                    health: h,
                    context_window: info.and_then(|i| i.context_window),
                });
            }
            let cursor = if combo.strategy == Strategy::RoundRobin {
                combo
                    .cursor
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
            } else {
                0
            };
            let ordered = order(combo.strategy, &cands, cursor, &mut rand::rng());
            let mut slots: Vec<Option<PlanTarget<'a>>> = targets.into_iter().map(Some).collect();
            let targets = ordered
                .into_iter()
                .filter_map(|i| slots.get_mut(i).and_then(Option::take))
                .collect();
            tracing::debug!(
                combo = %combo.name,
                strategy = combo.strategy.as_str(),
                candidates = ?cands,
                "route plan"
            );
            Ok(Plan {
                label: format!("combo={}; strategy={}", combo.name, combo.strategy.as_str()),
                targets,
                max_attempts: combo.max_attempts,
                deadline: Some(combo.deadline),
                retry_on: combo.retry_on,
                retry: config.retry,
            })
        }
    }
}
