//! Which sandbox serves an invocation.
//!
//! Owns each function's pool: warm sandboxes are reused most-recent-first,
//! a new one is started when none is free and the function is under its
//! `max_concurrency`, and beyond that the invocation is throttled. A sandbox
//! is free again only once its runtime asks for its next event; one that has
//! answered but not yet asked is waited for a moment rather than passed over,
//! so that a caller who sends its next request as soon as it has its answer
//! finds the sandbox it just used. An event the chosen sandbox died before
//! taking goes to another sandbox. Provisioned
//! sandboxes are started at boot and replaced when they die; idle on-demand
//! ones are reaped after `idle_s`. Shutdown lets in-flight invocations finish
//! for a grace period, then stops every sandbox. Running the invocation on the
//! chosen sandbox is the sandbox's business; the wire format is the APIs'.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, Notify};

use crate::function::Function;
use crate::manifest::Manifest;
use crate::outcome::Outcome;
use crate::sandbox::{
    HostContext, InitType, InvokeRequest, InvokeResult, Phases, Reserve, Sandbox,
};

/// How long an invocation waits for a sandbox that has answered its last
/// event to ask for the next one, before it starts another sandbox (or is
/// throttled). Runtimes ask within microseconds of answering; a stack trace
/// or a late log line takes a few milliseconds more.
const HANDOFF_WAIT: Duration = Duration::from_millis(20);
/// How many sandboxes an event is offered to when each dies before taking it.
const DELIVERY_ATTEMPTS: usize = 3;

/// Why an invocation was not run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScheduleError {
    NotFound,
    /// Every sandbox the function may have is busy.
    Throttled,
    ShuttingDown,
}

pub struct Scheduler {
    pools: BTreeMap<String, Arc<Pool>>,
}

impl Scheduler {
    pub fn new(manifest: &Manifest, host: HostContext) -> Scheduler {
        let pools = manifest
            .functions
            .iter()
            .map(|(name, config)| {
                let function = Arc::new(Function::new(config.clone(), &manifest.server.region));
                (name.clone(), Arc::new(Pool::new(function, host.clone())))
            })
            .collect();
        Scheduler { pools }
    }

    pub fn function(&self, name: &str) -> Option<&Arc<Function>> {
        self.pools.get(name).map(|p| &p.function)
    }

    pub fn functions(&self) -> impl Iterator<Item = &Arc<Function>> {
        self.pools.values().map(|p| &p.function)
    }

    /// Prepares every function's reserve of sandboxes, starts its
    /// provisioned ones and waits until they are initialised (or failed),
    /// then starts the reapers.
    pub async fn boot(&self) {
        let fills: Vec<_> = self
            .pools
            .values()
            .map(|p| {
                let reserve = p.reserve.clone();
                tokio::spawn(async move { reserve.fill().await })
            })
            .collect();
        for fill in fills {
            let _ = fill.await;
        }
        let starts = self
            .pools
            .values()
            .flat_map(|p| (0..p.function.config.provisioned).map(move |_| p.clone()))
            .map(|pool| tokio::spawn(async move { pool.add_provisioned().await }));
        for start in starts.collect::<Vec<_>>() {
            let _ = start.await;
        }
        for pool in self.pools.values() {
            tokio::spawn(reap(Arc::downgrade(pool)));
        }
    }

    /// Runs one invocation of `name` to the end of its invoke phase.
    pub async fn invoke(
        &self,
        name: &str,
        req: InvokeRequest,
    ) -> Result<InvokeResult, ScheduleError> {
        self.start(name, req).await?.result().await
    }

    /// Starts one invocation of `name`, or refuses it; the invocation runs
    /// to its end whether or not its result is awaited.
    pub async fn start(&self, name: &str, req: InvokeRequest) -> Result<Running, ScheduleError> {
        let pool = self.pools.get(name).ok_or(ScheduleError::NotFound)?.clone();
        let lease = pool.acquire(pool.tenant_of(&req)).await?;
        let function = pool.function.clone();
        let (answer_tx, answer) = oneshot::channel();
        // In its own task: a client that hangs up must not strand a sandbox
        // mid-invocation with its concurrency slot taken.
        let task = tokio::spawn(async move { pool.run(lease, req, answer_tx).await });
        Ok(Running {
            function,
            answer,
            answered: None,
            phases: Phases::default(),
            task,
        })
    }

    /// Retires every sandbox of `name`: idle ones stop now, busy ones when
    /// their invocation ends, so the next invocation is a cold start (on new
    /// code, after a rebuild). Prepared sandboxes stay: they hold no code.
    /// Returns how many were retired, or None for an unknown function.
    pub fn recycle(&self, name: &str) -> Option<usize> {
        let pool = self.pools.get(name)?;
        let slots = pool.function.config.per_sandbox_concurrency;
        let (count, retired) = {
            let mut st = pool.lock();
            let all = st.all.clone();
            for sandbox in &all {
                sandbox.retire_after_use();
            }
            let idle: Vec<_> = all
                .iter()
                .filter(|s| st.is_idle(s, slots))
                .cloned()
                .collect();
            let retired = idle.iter().filter_map(|s| st.retire(s)).collect::<Vec<_>>();
            (all.len(), retired)
        };
        pool.after_retire(retired);
        Some(count)
    }

    /// Stops taking invocations, waits up to `grace` for those under way,
    /// then stops every sandbox.
    pub async fn shutdown(&self, grace: Duration) {
        for pool in self.pools.values() {
            pool.lock().closed = true;
            pool.reserve.close();
        }
        let deadline = Instant::now() + grace;
        for pool in self.pools.values() {
            pool.wait_idle(deadline).await;
        }
        let stops = self.pools.values().flat_map(|pool| {
            let all = std::mem::take(&mut pool.lock().all);
            all.into_iter()
                .map(|s| tokio::spawn(async move { s.stop().await }))
        });
        for stop in stops.collect::<Vec<_>>() {
            let _ = stop.await;
        }
    }
}

/// An invocation under way.
pub struct Running {
    function: Arc<Function>,
    answer: oneshot::Receiver<(Outcome, Phases)>,
    /// The answer, once it came.
    answered: Option<Result<Outcome, ScheduleError>>,
    phases: Phases,
    task: tokio::task::JoinHandle<InvokeResult>,
}

impl Running {
    /// Waits for the function's answer, which comes before the end of the
    /// invoke phase (its END and REPORT). May be asked again.
    pub async fn answer(&mut self) -> Result<Outcome, ScheduleError> {
        if let Some(answered) = &self.answered {
            return answered.clone();
        }
        let answered = match (&mut self.answer).await {
            Ok((outcome, phases)) => {
                self.phases = phases;
                Ok(outcome)
            }
            // Only a host bug ends the task without an answer.
            Err(_) => Err(self.abnormal_end("without an answer")),
        };
        self.answered = Some(answered.clone());
        answered
    }

    /// Where the time to the answer went; empty before the answer.
    pub fn phases(&self) -> Phases {
        self.phases
    }

    fn abnormal_end(&self, how: &str) -> ScheduleError {
        tracing::error!(
            "an invocation of {} ended abnormally {how}",
            self.function.config.name
        );
        ScheduleError::ShuttingDown
    }

    /// Waits for the end of the invoke phase.
    pub async fn result(mut self) -> Result<InvokeResult, ScheduleError> {
        match (&mut self.task).await {
            Ok(result) => Ok(result),
            // Only a panic in the host ends the task early; it is a bug, so
            // log it, and spare the client a hung connection.
            Err(e) => Err(self.abnormal_end(&e.to_string())),
        }
    }
}

enum Lease {
    Warm(Arc<Sandbox>),
    /// A slot was reserved; the caller starts the sandbox.
    Cold,
}

struct Pool {
    function: Arc<Function>,
    host: HostContext,
    /// Sandboxes prepared for the function's next cold starts.
    reserve: Arc<Reserve>,
    state: Mutex<PoolState>,
    busy: AtomicUsize,
    went_idle: Notify,
    /// A sandbox went back to the pool, or left it.
    released: Notify,
}

#[derive(Default)]
struct PoolState {
    /// One entry per free invocation slot, most recently used last.
    free: Vec<Arc<Sandbox>>,
    /// Every live sandbox, busy or not.
    all: Vec<Arc<Sandbox>>,
    /// Slots reserved by invocations that are starting a sandbox.
    starting: usize,
    /// The tenants of busy sandboxes whose invocation was answered: free
    /// again in a moment.
    finishing: Vec<Option<String>>,
    closed: bool,
}

impl Pool {
    fn new(function: Arc<Function>, host: HostContext) -> Pool {
        Pool {
            reserve: Reserve::new(function.clone(), host.clone()),
            function,
            host,
            state: Mutex::new(PoolState::default()),
            busy: AtomicUsize::new(0),
            went_idle: Notify::new(),
            released: Notify::new(),
        }
    }

    fn lock(&self) -> MutexGuard<'_, PoolState> {
        // Only plain bookkeeping happens under this lock; a panic elsewhere
        // must not take the whole pool down with it.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The tenant whose sandboxes may serve `req`: its own for a function in
    /// per-tenant isolation, else the one shared set (None).
    fn tenant_of(&self, req: &InvokeRequest) -> Option<String> {
        req.tenant_id
            .clone()
            .filter(|_| self.function.config.per_tenant)
    }

    /// A free sandbox of `tenant`, or a slot to start one, or a refusal.
    /// Waits up to [`HANDOFF_WAIT`] for a sandbox that is finishing an invocation.
    async fn acquire(self: &Arc<Self>, tenant: Option<String>) -> Result<Lease, ScheduleError> {
        let handoff_until = tokio::time::Instant::now() + HANDOFF_WAIT;
        loop {
            // Registered before looking, so that a release in between wakes it.
            let released = self.released.notified();
            let may_wait = tokio::time::Instant::now() < handoff_until;
            if let Some(lease) = self.try_acquire(&tenant, may_wait) {
                return lease;
            }
            let _ = tokio::time::timeout_at(handoff_until, released).await;
        }
    }

    /// None: wait for a finishing sandbox.
    fn try_acquire(
        self: &Arc<Self>,
        tenant: &Option<String>,
        may_wait: bool,
    ) -> Option<Result<Lease, ScheduleError>> {
        let mut st = self.lock();
        if st.closed {
            return Some(Err(ScheduleError::ShuttingDown));
        }
        let mut dead = Vec::new();
        let lease = loop {
            let mine = st.free.iter().rposition(|s| &s.tenant == tenant);
            match mine.map(|at| st.free.remove(at)) {
                Some(s) if s.is_alive() => break Some(Ok(Lease::Warm(s))),
                Some(s) => dead.push(s),
                None if may_wait && st.finishing.contains(tenant) => break None,
                None if st.all.len() + st.starting < self.function.config.max_concurrency => {
                    st.starting += 1;
                    break Some(Ok(Lease::Cold));
                }
                // Full: an idle sandbox of another tenant makes room, as on Lambda.
                None => {
                    match st.idle_of_another(tenant, self.function.config.per_sandbox_concurrency) {
                        Some(idle) => {
                            dead.push(idle);
                            st.starting += 1;
                            break Some(Ok(Lease::Cold));
                        }
                        None => break Some(Err(ScheduleError::Throttled)),
                    }
                }
            }
        };
        let retired: Vec<_> = dead.iter().filter_map(|s| st.retire(s)).collect();
        if let Some(Ok(_)) = lease {
            self.busy.fetch_add(1, Ordering::AcqRel);
        }
        drop(st);
        self.after_retire(retired);
        lease
    }

    /// Runs one invocation on a leased sandbox, and on others if the ones
    /// it is given die before taking it.
    async fn run(
        self: Arc<Self>,
        mut lease: Lease,
        req: InvokeRequest,
        answer_tx: oneshot::Sender<(Outcome, Phases)>,
    ) -> InvokeResult {
        let tenant = self.tenant_of(&req);
        let mut answer_tx = Some(answer_tx);
        let mut attempt = 1;
        loop {
            let result = self.run_once(lease, &req, &tenant, &mut answer_tx).await;
            let retry = match result.undelivered && attempt < DELIVERY_ATTEMPTS {
                true => self.acquire(tenant.clone()).await.ok(),
                false => None,
            };
            let Some(next) = retry else {
                if let Some(tx) = answer_tx.take() {
                    let _ = tx.send((result.outcome.clone(), Phases::default()));
                }
                return result;
            };
            lease = next;
            attempt += 1;
        }
    }

    /// One attempt: runs `req` on the leased sandbox and gives it back.
    async fn run_once(
        self: &Arc<Self>,
        lease: Lease,
        req: &InvokeRequest,
        tenant: &Option<String>,
        answer_tx: &mut Option<oneshot::Sender<(Outcome, Phases)>>,
    ) -> InvokeResult {
        let (sandbox, _cold) = match lease {
            Lease::Warm(sandbox) => (sandbox, None),
            Lease::Cold => {
                let cold = self.host.cold_starts.begin();
                let sandbox = self.add(InitType::OnDemand, false, tenant.clone()).await;
                (sandbox, Some(cold))
            }
        };
        let mut finishing = false;
        let result = sandbox
            .invoke(req.clone(), |outcome, phases| {
                if let Some(tx) = answer_tx.take() {
                    let _ = tx.send((outcome.clone(), phases));
                }
                self.lock().finishing.push(tenant.clone());
                finishing = true;
            })
            .await;
        self.release(sandbox, result.reusable, finishing);
        result
    }

    /// Starts a sandbox for a reserved slot (or a provisioned one) and enters it in the pool.
    async fn add(
        &self,
        init_type: InitType,
        to_free: bool,
        tenant: Option<String>,
    ) -> Arc<Sandbox> {
        let prepared = self.reserve.take();
        let function = self.function.clone();
        let sandbox = Sandbox::start(function, &self.host, init_type, tenant, prepared).await;
        self.reserve.refill();
        let slots = self.function.config.per_sandbox_concurrency;
        let entered = {
            let mut st = self.lock();
            if !to_free {
                st.starting -= 1;
            }
            // A provisioned sandbox that finished starting after shutdown
            // collected the pool would be missed by it: not entered, stopped.
            let enter = !to_free || !st.closed;
            if enter {
                st.all.push(sandbox.clone());
                // The caller of a cold start takes one slot; the others are free.
                let free_slots = if to_free { slots } else { slots - 1 };
                st.free
                    .extend(std::iter::repeat_n(sandbox.clone(), free_slots));
            }
            enter
        };
        if !entered {
            sandbox.stop().await;
        }
        sandbox
    }

    async fn add_provisioned(&self) {
        if self.lock().closed {
            return;
        }
        let sandbox = self.add(InitType::Provisioned, true, None).await;
        let _ = sandbox.ready(crate::sandbox::INIT_LIMIT).await;
    }

    fn release(self: &Arc<Self>, sandbox: Arc<Sandbox>, reusable: bool, finishing: bool) {
        let mut st = self.lock();
        if finishing {
            if let Some(at) = st.finishing.iter().position(|t| *t == sandbox.tenant) {
                st.finishing.swap_remove(at);
            }
        }
        let retired = if reusable && !st.closed && sandbox.is_alive() && !sandbox.retiring() {
            st.free.push(sandbox);
            None
        } else {
            st.retire(&sandbox)
        };
        drop(st);
        self.after_retire(retired);
        self.released.notify_waiters();
        if self.busy.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.went_idle.notify_waiters();
        }
    }

    /// Stops retired sandboxes and keeps the provisioned count up.
    fn after_retire(self: &Arc<Self>, retired: impl IntoIterator<Item = Arc<Sandbox>>) {
        for sandbox in retired {
            let replace = sandbox.init_type == InitType::Provisioned;
            tokio::spawn(async move { sandbox.stop().await });
            if replace {
                let pool = self.clone();
                tokio::spawn(async move { pool.add_provisioned().await });
            }
        }
    }

    async fn wait_idle(&self, deadline: Instant) {
        loop {
            let notified = self.went_idle.notified();
            if self.busy.load(Ordering::Acquire) == 0 {
                return;
            }
            if tokio::time::timeout_at(deadline.into(), notified)
                .await
                .is_err()
            {
                return;
            }
        }
    }
}

impl PoolState {
    /// Whether every invocation slot of `sandbox` is free.
    fn is_idle(&self, sandbox: &Arc<Sandbox>, slots: usize) -> bool {
        self.free.iter().filter(|f| Arc::ptr_eq(f, sandbox)).count() == slots
    }

    /// The least recently used sandbox of another tenant whose every slot is free.
    fn idle_of_another(&self, tenant: &Option<String>, slots: usize) -> Option<Arc<Sandbox>> {
        self.free
            .iter()
            .find(|s| &s.tenant != tenant && self.is_idle(s, slots))
            .cloned()
    }

    /// Takes a sandbox out of the pool; Some the first time only.
    fn retire(&mut self, sandbox: &Arc<Sandbox>) -> Option<Arc<Sandbox>> {
        self.free.retain(|s| !Arc::ptr_eq(s, sandbox));
        let at = self.all.iter().position(|s| Arc::ptr_eq(s, sandbox))?;
        Some(self.all.swap_remove(at))
    }
}

/// Stops idle on-demand sandboxes and drops dead idle ones, until the pool goes away.
async fn reap(pool: std::sync::Weak<Pool>) {
    let tick = {
        let Some(p) = pool.upgrade() else { return };
        Duration::from_millis((p.function.config.idle_s * 250).clamp(100, 5_000))
    };
    loop {
        tokio::time::sleep(tick).await;
        let Some(pool) = pool.upgrade() else { return };
        let idle_limit = Duration::from_secs(pool.function.config.idle_s);
        let slots = pool.function.config.per_sandbox_concurrency;
        let mut st = pool.lock();
        if st.closed {
            return;
        }
        let idle: Vec<_> = st
            .all
            .iter()
            .filter(|s| {
                let all_free = st.is_idle(s, slots);
                let expired = s.init_type == InitType::OnDemand && s.idle_for() >= idle_limit;
                all_free && (expired || !s.is_alive())
            })
            .cloned()
            .collect();
        let retired: Vec<_> = idle.iter().filter_map(|s| st.retire(s)).collect();
        drop(st);
        pool.after_retire(retired);
    }
}
