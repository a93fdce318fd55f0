//! Background work beside the server that needs the configuration: the request-log writer
//! (when `[request_logs] enabled`) and the retention job. Both stop after the server does.

use gateway::Config;
use gateway::state::Services;
use gateway::usage::WriterTask;
use gateway::usage::request_log;
use gateway::usage::retention::{RetentionJob, RetentionPolicy};

pub struct Housekeeping {
    request_logs: Option<WriterTask>,
    retention: Option<RetentionJob>,
}

/// Starts what `config` asks for on `services.store`, and hands the request-log writer to the
/// request path through `services`.
pub fn start(config: &Config, services: &mut Services) -> Housekeeping {
    let Some(store) = services.store.clone() else {
        return Housekeeping {
            request_logs: None,
            retention: None,
        };
    };
    let mut request_logs = None;
    if let Some((handle, task)) = request_log::from_config(&config.request_logs, store.clone()) {
        tracing::info!(
            max_body_bytes = config.request_logs.max_body_bytes,
            "request and response bodies are logged (redacted)"
        );
        services.request_logs = Some(handle);
        request_logs = Some(task);
    }
    Housekeeping {
        request_logs,
        retention: RetentionJob::start(store, RetentionPolicy::from_config(config)),
    }
}

impl Housekeeping {
    /// Stops the retention job and writes the request logs still queued.
    pub async fn shutdown(self) {
        if let Some(job) = self.retention {
            job.shutdown().await;
        }
        if let Some(task) = self.request_logs {
            let stats = task.shutdown().await;
            tracing::info!(
                written = stats.written,
                dropped = stats.dropped,
                failed = stats.failed,
                "request logs flushed"
            );
        }
    }
}
