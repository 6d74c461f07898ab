//! The durable executions of a host: the registry the API works on, and
//! the operations it offers (start, checkpoint, state, callbacks, stop,
//! reads). Each running execution has a driver ([`super::driver`]) that
//! invokes the function whenever something it waits for has happened.
//!
//! An execution lives in a cell with an async lock: a change is computed,
//! stored, then committed under that lock, so changes of one execution are
//! stored in the order they were made. The registry's own maps are behind
//! plain locks held only to look up or insert.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{watch, Notify, Semaphore};

use super::checkpoint;
use super::execution::{Changes, Checkpointed, Execution, Meta};
use super::model::{ErrorObject, ExecStatus, Operation, OperationUpdate};
use super::progress::{self, Outcome};
use super::store::DurableStore;
use crate::function::Function;
use crate::queue::now_ms;
use crate::scheduler::Scheduler;
use crate::sync::lock;

/// Why a durable-execution request was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DurableError {
    /// `InvalidParameterValueException`, with the service's message.
    Invalid(String),
    /// `ResourceNotFoundException`.
    NotFound(String),
    /// `DurableExecutionAlreadyStartedException`.
    AlreadyStarted(String),
    /// `CallbackTimeoutException`: the callback already ended.
    CallbackClosed(String),
    /// `ResourceConflictException`: not possible in the execution's state.
    Conflict(String),
    /// `ServiceException`: the store failed.
    Service(String),
}

/// One execution and what its driver waits on.
pub struct Cell {
    pub(super) exec: tokio::sync::Mutex<Execution>,
    /// Something happened that the function must see: invoke it again.
    pub(super) needs_invoke: AtomicBool,
    /// Wakes the driver (a change, a stop).
    pub(super) wake: Notify,
    /// The execution's status, for callers waiting for its end.
    pub(super) status: watch::Sender<ExecStatus>,
}

impl Cell {
    fn new(exec: Execution) -> Arc<Cell> {
        let status = exec.head.status;
        Arc::new(Cell {
            exec: tokio::sync::Mutex::new(exec),
            needs_invoke: AtomicBool::new(false),
            wake: Notify::new(),
            status: watch::channel(status).0,
        })
    }

    /// Asks the driver to invoke the function again.
    pub(super) fn poke(&self) {
        self.needs_invoke.store(true, Ordering::SeqCst);
        self.wake.notify_one();
    }

    /// Waits until the execution has ended.
    pub async fn ended(&self) {
        let mut rx = self.status.subscribe();
        let _ = rx.wait_for(|s| !s.is_open()).await;
    }

    /// How the execution ended (waiting for its end): its status, and its
    /// result or error.
    pub async fn outcome(&self) -> (ExecStatus, Option<String>, Option<serde_json::Value>) {
        self.ended().await;
        let exec = self.exec.lock().await;
        (
            exec.head.status,
            exec.head.result.clone(),
            exec.head.error.clone(),
        )
    }
}

pub struct Engine {
    pub(super) store: Arc<dyn DurableStore>,
    pub(super) scheduler: Arc<Scheduler>,
    cells: Mutex<HashMap<String, Arc<Cell>>>,
    /// (function, execution name) → ARN.
    names: Mutex<HashMap<(String, String), String>>,
    /// Callback id → (ARN, operation id).
    callbacks: Mutex<HashMap<String, (String, String)>>,
    /// Invocations of each function under way for executions, so drivers
    /// queue for a slot instead of being throttled.
    slots: HashMap<String, Arc<Semaphore>>,
    pub(super) stopping: watch::Receiver<bool>,
    stop: watch::Sender<bool>,
    /// Held while an execution is started.
    starting: tokio::sync::Mutex<()>,
}

/// A started (or found again) execution.
pub struct Started {
    pub arn: String,
    pub cell: Arc<Cell>,
}

impl Engine {
    pub fn new(store: Arc<dyn DurableStore>, scheduler: Arc<Scheduler>) -> Arc<Engine> {
        let slots = scheduler
            .functions()
            .map(|f| {
                let n = f.config.max_concurrency * f.config.per_sandbox_concurrency;
                (f.config.name.clone(), Arc::new(Semaphore::new(n)))
            })
            .collect();
        let (stop, stopping) = watch::channel(false);
        Arc::new(Engine {
            store,
            scheduler,
            cells: Mutex::new(HashMap::new()),
            names: Mutex::new(HashMap::new()),
            callbacks: Mutex::new(HashMap::new()),
            slots,
            stopping,
            stop,
            starting: tokio::sync::Mutex::new(()),
        })
    }

    /// Loads the stored executions and resumes the running ones: each is
    /// invoked again, and replays from its checkpoints.
    pub async fn recover(self: &Arc<Self>) -> Result<usize, DurableError> {
        let open = self.load().await?;
        Ok(self.drive_loaded(open).await)
    }

    /// Loads the stored executions, forgetting those past their retention;
    /// the running ones, to [`Engine::drive_loaded`] once requests reach this
    /// engine (their invocations' checkpoints will).
    pub async fn load(&self) -> Result<Vec<Arc<Cell>>, DurableError> {
        let execs = self.store.load().await.map_err(service)?;
        // Every execution is registered before any is resumed: a parent's
        // chained invoke must find the child execution it already started.
        let mut open = Vec::new();
        for mut exec in execs {
            if exec.head.status == ExecStatus::Pausing {
                // The invocation it waited for died with the last host; the
                // resume will invoke it again (stored as such at the next change).
                exec.head.status = ExecStatus::Paused;
            }
            if self.expired(&exec) {
                self.store.delete(&exec.meta.arn).await.map_err(service)?;
                continue;
            }
            let is_open = exec.is_open();
            let cell = self.register(exec).await;
            if is_open {
                open.push(cell);
            }
        }
        Ok(open)
    }

    /// Starts the drivers of loaded running executions; how many will be
    /// invoked again.
    pub async fn drive_loaded(self: &Arc<Self>, open: Vec<Arc<Cell>>) -> usize {
        let mut resumed = 0;
        for cell in open {
            resumed += usize::from(cell.exec.lock().await.may_invoke());
            cell.poke();
            self.restart_invokes(&cell).await;
            super::driver::spawn(self.clone(), cell);
        }
        resumed
    }

    /// Stops the drivers; executions stay in the store as they are.
    pub fn shutdown(&self) {
        let _ = self.stop.send(true);
    }

    /// Resolves once the engine is shut down (the host stops, or leaves the
    /// lead to another).
    pub async fn stopped(&self) {
        let mut stopping = self.stopping.clone();
        let _ = stopping.wait_for(|s| *s).await;
    }

    pub(super) fn slots(&self, function: &str) -> Option<Arc<Semaphore>> {
        self.slots.get(function).cloned()
    }

    fn expired(&self, exec: &Execution) -> bool {
        let retention_ms = exec.meta.retention_days as i64 * 86_400_000;
        exec.head
            .end_ms
            .is_some_and(|end| end + retention_ms < now_ms())
    }

    async fn register(&self, exec: Execution) -> Arc<Cell> {
        let arn = exec.meta.arn.clone();
        let key = (exec.meta.function.clone(), exec.meta.name.clone());
        {
            let mut callbacks = lock(&self.callbacks);
            for r in exec.ops() {
                if let Some(d) = &r.op.callback_details {
                    callbacks.insert(d.callback_id.clone(), (arn.clone(), r.op.id.clone()));
                }
            }
        }
        let cell = Cell::new(exec);
        lock(&self.names).insert(key, arn.clone());
        lock(&self.cells).insert(arn, cell.clone());
        cell
    }

    pub fn cell(&self, arn: &str) -> Result<Arc<Cell>, DurableError> {
        lock(&self.cells)
            .get(arn)
            .cloned()
            .ok_or_else(|| DurableError::NotFound(format!("Durable execution not found: {arn}")))
    }

    /// Starts an execution of `function` named `name` (a fresh name if
    /// none), or finds the one of that name: the same input gets the same
    /// execution, as the service's idempotent start does.
    pub async fn start(
        self: &Arc<Self>,
        function: &Function,
        name: Option<String>,
        input: String,
    ) -> Result<Started, DurableError> {
        let Some(config) = function.config.durable else {
            return Err(DurableError::Invalid(format!(
                "{} is not a durable function",
                function.config.name
            )));
        };
        let name = name.unwrap_or_else(|| crate::ids::uuid().to_string());
        let key = (function.config.name.clone(), name.clone());
        // One start at a time, so that two with the same name cannot both
        // miss the other (a start costs one commit).
        let _one_at_a_time = self.starting.lock().await;
        let existing = lock(&self.names).get(&key).cloned();
        if let Some(arn) = existing {
            let cell = self.cell(&arn)?;
            if cell.exec.lock().await.meta.input != input {
                return Err(DurableError::AlreadyStarted(format!(
                    "Durable execution with name {name} already exists with a different input"
                )));
            }
            return Ok(Started { arn, cell });
        }
        let function_arn = format!("{}:$LATEST", function.arn);
        let arn = format!(
            "{function_arn}/durable-execution/{name}/{}",
            crate::ids::uuid()
        );
        let (exec, changes) = Execution::start(Meta {
            arn: arn.clone(),
            name,
            function: function.config.name.clone(),
            function_arn,
            input,
            start_ms: now_ms(),
            timeout_s: config.execution_timeout_s,
            retention_days: config.retention_days,
            secret: String::new(),
        });
        self.store.insert(&exec, &changes).await.map_err(service)?;
        let mut committed = exec.clone();
        committed.commit(changes, false);
        let cell = self.register(committed).await;
        cell.poke();
        super::driver::spawn(self.clone(), cell.clone());
        Ok(Started { arn, cell })
    }

    /// Stores `changes` of the execution in `cell` and commits them.
    pub(super) async fn save(
        &self,
        exec: &mut Execution,
        changes: Changes,
        cell: &Cell,
        by_host: bool,
    ) -> Result<(), DurableError> {
        self.store.save(exec, &changes).await.map_err(service)?;
        exec.commit(changes, by_host);
        cell.status.send_replace(exec.head.status);
        Ok(())
    }

    /// Stores and commits `changes` made by the host itself (a timer, the end
    /// of an invocation, a chained invoke's result), trying again while the
    /// store fails: such a change must not be lost. False if the host
    /// stopped first (the change is then made again after the restart).
    pub(super) async fn save_until_stored(
        &self,
        exec: &mut Execution,
        changes: Changes,
        cell: &Cell,
        by_host: bool,
    ) -> bool {
        let mut delay = std::time::Duration::from_millis(100);
        loop {
            match self.save(exec, changes.clone(), cell, by_host).await {
                Ok(()) => return true,
                Err(e) => {
                    tracing::warn!("durable execution {}: {e:?}; trying again", exec.meta.arn)
                }
            }
            if *self.stopping.borrow() {
                return false;
            }
            tokio::time::sleep(delay).await;
            delay = (delay * 2).min(std::time::Duration::from_secs(5));
        }
    }

    /// `CheckpointDurableExecution`: the new token (none once the
    /// execution ended) and the operations that changed, by this checkpoint
    /// or by the host since the last one. A retry of the last checkpoint
    /// (same client token, same token) gets the same answer again.
    pub async fn checkpoint(
        self: &Arc<Self>,
        arn: &str,
        token: &str,
        updates: &[OperationUpdate],
        client_token: Option<String>,
    ) -> Result<Checkpointed, DurableError> {
        let cell = self.cell(arn)?;
        let mut exec = cell.exec.lock().await;
        if let (Some(ct), Some(last)) = (&client_token, &exec.last_checkpoint) {
            if last.client_token == *ct && last.token == token {
                return Ok(last.answer.clone());
            }
        }
        // An ended execution has no live token; a paused one runs no invocation.
        if !exec.may_invoke() && exec.head.status != ExecStatus::Pausing {
            return Err(DurableError::Invalid("Invalid checkpoint token".into()));
        }
        exec.check_token(token)
            .map_err(|m| DurableError::Invalid(m.to_string()))?;
        let (mut changes, effects) =
            checkpoint::apply(&exec, updates, now_ms()).map_err(|e| DurableError::Invalid(e.0))?;
        if changes.head.status == ExecStatus::Pausing {
            // Paused at this checkpoint: no token, so the SDK stops here and
            // returns PENDING; the resume invokes the function again.
            changes.head.status = ExecStatus::Paused;
            cell.needs_invoke.store(true, Ordering::SeqCst);
        }
        let mut touched: Vec<String> = std::mem::take(&mut exec.changed_by_host);
        if let Err(e) = self.save(&mut exec, changes.clone(), &cell, false).await {
            exec.changed_by_host = touched;
            return Err(e);
        }
        touch(&mut touched, &changes);
        self.fire_at_checkpoint(&mut exec, &cell, &mut touched)
            .await;
        self.follow_up(arn, &cell, effects);
        let answer = Checkpointed {
            // The service gives no token once the execution has ended.
            token: exec.may_invoke().then(|| exec.token()),
            operations: touched
                .iter()
                .filter_map(|id| exec.op(id).map(|r| r.op.clone()))
                .collect(),
        };
        if let Some(client_token) = client_token {
            exec.last_checkpoint = Some(super::execution::LastCheckpoint {
                client_token,
                token: token.to_string(),
                answer: answer.clone(),
            });
        }
        Ok(answer)
    }

    /// Timers due by now fire at a checkpoint too, so an SDK that polls with
    /// empty checkpoints mid-invocation sees its waits end and its retries
    /// ready. Failing here fails no checkpoint (that one is stored): the
    /// driver fires them later.
    async fn fire_at_checkpoint(
        &self,
        exec: &mut Execution,
        cell: &Cell,
        touched: &mut Vec<String>,
    ) {
        let Some(fired) = progress::fire_due(exec, now_ms()) else {
            return;
        };
        touch(touched, &fired);
        if let Err(e) = self.save(exec, fired, cell, false).await {
            tracing::warn!("durable execution {}: {e:?}", exec.meta.arn);
        }
    }

    /// What a stored checkpoint sets going: its callbacks' ids become
    /// known, its chained invokes run, its end wakes the driver.
    fn follow_up(self: &Arc<Self>, arn: &str, cell: &Arc<Cell>, effects: checkpoint::Effects) {
        {
            let mut callbacks = lock(&self.callbacks);
            for (callback_id, op_id) in effects.callbacks {
                callbacks.insert(callback_id, (arn.to_string(), op_id));
            }
        }
        for op_id in effects.invokes {
            super::chained::spawn(self.clone(), cell.clone(), op_id);
        }
        if effects.ended {
            cell.wake.notify_one();
        }
    }

    /// `GetDurableExecutionState`: a page of the operations, in order.
    pub async fn state(
        &self,
        arn: &str,
        token: &str,
        marker: Option<&str>,
        max_items: usize,
    ) -> Result<(Vec<Operation>, Option<String>), DurableError> {
        let cell = self.cell(arn)?;
        let exec = cell.exec.lock().await;
        exec.check_token(token)
            .map_err(|m| DurableError::Invalid(m.to_string()))?;
        let start = parse_marker(marker)?;
        Ok(page(exec.ops().map(|r| r.op.clone()), start, max_items))
    }

    /// Completes, fails (`outcome`) or heartbeats (`None`) a callback.
    pub async fn callback(
        &self,
        callback_id: &str,
        outcome: Option<Outcome>,
    ) -> Result<(), DurableError> {
        let found = lock(&self.callbacks).get(callback_id).cloned();
        let closed = || {
            DurableError::CallbackClosed(format!(
                "Callback {callback_id} has already completed or timed out"
            ))
        };
        let Some((arn, op_id)) = found else {
            return Err(DurableError::NotFound(format!(
                "Callback not found: {callback_id}"
            )));
        };
        let cell = self.cell(&arn)?;
        let mut exec = cell.exec.lock().await;
        let now = now_ms();
        let changes = match &outcome {
            Some(o) => progress::complete(&exec, &op_id, o.clone(), now),
            None => progress::heartbeat(&exec, &op_id, now),
        }
        .ok_or_else(closed)?;
        self.save(&mut exec, changes, &cell, outcome.is_some())
            .await?;
        if outcome.is_some() {
            cell.poke();
        } else {
            // The heartbeat moved the deadline the driver sleeps until.
            cell.wake.notify_one();
        }
        Ok(())
    }

    /// `StopDurableExecution`: the stop time (epoch ms); an execution that
    /// already ended keeps its end, as the service answers a second stop.
    pub async fn stop(&self, arn: &str, error: ErrorObject) -> Result<i64, DurableError> {
        let cell = self.cell(arn)?;
        let mut exec = cell.exec.lock().await;
        if let Some(end) = exec.head.end_ms {
            return Ok(end);
        }
        let now = now_ms();
        let mut changes = Changes::new(&exec);
        progress::end(
            &exec,
            &mut changes,
            ExecStatus::Stopped,
            None,
            Some(error),
            now,
        );
        self.save(&mut exec, changes, &cell, true).await?;
        cell.wake.notify_one();
        Ok(now)
    }

    /// `PauseDurableExecution`: no invocations until it is resumed; waits
    /// and callbacks still complete meanwhile.
    pub async fn pause(
        &self,
        arn: &str,
        reason: Option<String>,
        timeout_paused: bool,
    ) -> Result<(), DurableError> {
        let cell = self.cell(arn)?;
        let mut exec = cell.exec.lock().await;
        if exec.head.status != ExecStatus::Running {
            return Err(DurableError::Conflict(format!(
                "Durable execution {arn} cannot be paused: it is {}",
                exec.head.status.as_str()
            )));
        }
        let changes = progress::pause(&exec, reason, timeout_paused, now_ms());
        self.save(&mut exec, changes, &cell, false).await?;
        cell.wake.notify_one();
        Ok(())
    }

    /// `ResumeDurableExecution`: the function is invoked again if anything
    /// happened meanwhile, or the pause cut an invocation short.
    pub async fn resume(&self, arn: &str, reason: Option<String>) -> Result<(), DurableError> {
        let cell = self.cell(arn)?;
        let mut exec = cell.exec.lock().await;
        if !matches!(exec.head.status, ExecStatus::Paused | ExecStatus::Pausing) {
            return Err(DurableError::Conflict(format!(
                "Durable execution {arn} cannot be resumed: it is {}",
                exec.head.status.as_str()
            )));
        }
        let changes = progress::resume(&exec, reason, now_ms());
        self.save(&mut exec, changes, &cell, false).await?;
        cell.wake.notify_one();
        Ok(())
    }

    /// `DeleteDurableExecution`: forgets an execution that has ended.
    pub async fn delete(&self, arn: &str) -> Result<i64, DurableError> {
        let cell = self.cell(arn)?;
        let exec = cell.exec.lock().await;
        if exec.is_open() {
            return Err(DurableError::Conflict(format!(
                "Durable execution {arn} is running: stop it before deleting it"
            )));
        }
        self.store.delete(arn).await.map_err(service)?;
        self.forget(&exec);
        Ok(now_ms())
    }

    fn forget(&self, exec: &Execution) {
        let arn = &exec.meta.arn;
        lock(&self.cells).remove(arn);
        lock(&self.names).remove(&(exec.meta.function.clone(), exec.meta.name.clone()));
        lock(&self.callbacks).retain(|_, (a, _)| a != arn);
    }

    /// A copy of the execution, for the read operations.
    pub async fn snapshot(&self, arn: &str) -> Result<Execution, DurableError> {
        let cell = self.cell(arn)?;
        let exec = cell.exec.lock().await;
        Ok(exec.clone())
    }

    /// Every execution of `function`, oldest first.
    pub async fn of_function(&self, function: &str) -> Vec<Execution> {
        let cells: Vec<Arc<Cell>> = lock(&self.cells).values().cloned().collect();
        let mut out = Vec::new();
        for cell in cells {
            let exec = cell.exec.lock().await;
            if exec.meta.function == function {
                out.push(exec.clone());
            }
        }
        out.sort_by(|a, b| (a.meta.start_ms, &a.meta.arn).cmp(&(b.meta.start_ms, &b.meta.arn)));
        out
    }

    /// Chained invokes left under way by a host that stopped are made again.
    async fn restart_invokes(self: &Arc<Self>, cell: &Arc<Cell>) {
        let pending: Vec<String> = {
            let exec = cell.exec.lock().await;
            exec.ops()
                .filter(|r| {
                    r.op.kind == super::model::OpType::ChainedInvoke
                        && r.op.status == super::model::OpStatus::Started
                })
                .map(|r| r.op.id.clone())
                .collect()
        };
        for op_id in pending {
            super::chained::spawn(self.clone(), cell.clone(), op_id);
        }
    }

    /// Forgets executions whose retention has passed.
    pub async fn sweep(&self) {
        let cells: Vec<Arc<Cell>> = lock(&self.cells).values().cloned().collect();
        for cell in cells {
            let exec = cell.exec.lock().await;
            if self.expired(&exec) && self.store.delete(&exec.meta.arn).await.is_ok() {
                self.forget(&exec);
            }
        }
    }
}

/// Adds the operations `changes` touched to `touched`, once each.
fn touch(touched: &mut Vec<String>, changes: &Changes) {
    for r in &changes.ops {
        if !touched.contains(&r.op.id) {
            touched.push(r.op.id.clone());
        }
    }
}

fn service(e: crate::queue::StoreError) -> DurableError {
    DurableError::Service(e.to_string())
}

/// A page's marker is the index of its first item.
pub fn parse_marker(marker: Option<&str>) -> Result<usize, DurableError> {
    marker
        .filter(|m| !m.is_empty())
        .map(|m| {
            m.parse()
                .map_err(|_| DurableError::Invalid(format!("Invalid marker: {m}")))
        })
        .transpose()
        .map(Option::unwrap_or_default)
}

/// Items `start..start + max` of `items`, and the marker of the next page.
pub fn page<T>(
    items: impl Iterator<Item = T>,
    start: usize,
    max: usize,
) -> (Vec<T>, Option<String>) {
    let mut out: Vec<T> = items.skip(start).take(max + 1).collect();
    let next = (out.len() > max).then(|| {
        out.truncate(max);
        (start + max).to_string()
    });
    (out, next)
}
