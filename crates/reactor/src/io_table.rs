//! The loop's table of registrations and the fds they watch.
//!
//! ```text
//!   by_fd: HashMap<RawFd, slot>          slots: Slab<FdSlot>            regs: Slab<Registration>
//!   ┌──────┬──────┐                  ┌──────────────────────────┐     ┌──────────────────────────┐
//!   │ fd 9 │ ──────────────────────▶ │ gen 41, polled READ|WRITE │     │ #0 "conn" READ, Edge     │
//!   └──────┴──────┘                  │ reader ─▶ #0             │ ──▶ │ #3 "flush" WRITE, Level  │
//!                                    │ writer ─▶ #3             │     └──────────────────────────┘
//!                                    └──────────────────────────┘
//! ```
//!
//! One fd is registered with the poller once, with the union of its
//! registrations' interests, under a token that packs the slot index with a
//! generation. A registration owns the directions in its interest: a second
//! registration asking for a taken direction is refused (gevent's one waiter
//! per socket). Generations make stale events harmless: when a handler removes
//! another source during dispatch and a new one lands in the same slot or on
//! the same fd number, the old events carry the old generation and are
//! skipped (tornado pops them from its pending events for the same reason).

use std::collections::HashMap;
use std::os::fd::RawFd;

use mio::unix::SourceFd;
use mio::{Registry, Token};
use slab::Slab;

use crate::error::{Direction, RegisterError};
use crate::handler::Dispatch;
use crate::label::Label;
use crate::{Interest, Ready, Trigger};

/// Names one registration; stale once it is removed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct SourceKey {
    index: u32,
    gen: u32,
}

pub(crate) struct Registration<D> {
    gen: u32,
    slot: usize,
    pub(crate) interest: Interest,
    /// `false` after a `Disable` verdict: the interest stays claimed (no
    /// other registration may take its directions) but is not polled.
    pub(crate) enabled: bool,
    pub(crate) trigger: Trigger,
    pub(crate) name: Label,
    /// The handler and the source it owns; `None` while the handler runs.
    handler: Option<Box<dyn Dispatch<D>>>,
    /// Level-triggered and not yet `WouldBlock`: call again with this.
    pub(crate) level_ready: Option<Ready>,
    /// The dispatch round it was last queued in, and where, so a registration
    /// with both an event and a level call owed is called once.
    queued: (u64, usize),
}

struct FdSlot {
    fd: RawFd,
    gen: u32,
    reader: Option<usize>,
    writer: Option<usize>,
    members: usize,
    polled: Interest,
}

/// Registrations and fd slots; see the module docs.
pub(crate) struct IoTable<D> {
    regs: Slab<Registration<D>>,
    slots: Slab<FdSlot>,
    by_fd: HashMap<RawFd, usize>,
    next_gen: u32,
    /// Level registrations owed a call (may hold stale keys; checked on use).
    level_owed: Vec<SourceKey>,
}

impl<D> Default for IoTable<D> {
    fn default() -> IoTable<D> {
        IoTable {
            regs: Slab::new(),
            slots: Slab::new(),
            by_fd: HashMap::new(),
            next_gen: 0,
            level_owed: Vec::new(),
        }
    }
}

impl<D> IoTable<D> {
    fn bump_gen(&mut self) -> u32 {
        self.next_gen = self.next_gen.wrapping_add(1);
        self.next_gen
    }

    fn get(&self, key: SourceKey) -> Option<&Registration<D>> {
        self.regs
            .get(key.index as usize)
            .filter(|r| r.gen == key.gen)
    }

    fn get_mut(&mut self, key: SourceKey) -> Option<&mut Registration<D>> {
        self.regs
            .get_mut(key.index as usize)
            .filter(|r| r.gen == key.gen)
    }

    pub(crate) fn contains(&self, key: SourceKey) -> bool {
        self.get(key).is_some()
    }

    pub(crate) fn len(&self) -> usize {
        self.regs.len()
    }

    pub(crate) fn registration(&self, key: SourceKey) -> Option<&Registration<D>> {
        self.get(key)
    }

    /// Adds a registration for `fd`, refusing a direction another one holds.
    pub(crate) fn insert(
        &mut self,
        registry: &Registry,
        fd: RawFd,
        interest: Interest,
        trigger: Trigger,
        name: Label,
        handler: Box<dyn Dispatch<D>>,
    ) -> Result<SourceKey, RegisterError> {
        let slot = match self.by_fd.get(&fd) {
            Some(&slot) => slot,
            None => {
                let gen = self.bump_gen();
                let slot = self.slots.insert(FdSlot {
                    fd,
                    gen,
                    reader: None,
                    writer: None,
                    members: 0,
                    polled: Interest::NONE,
                });
                self.by_fd.insert(fd, slot);
                slot
            }
        };
        if let Err(err) = self.check_free(slot, None, interest) {
            self.drop_slot_if_unused(slot);
            return Err(err);
        }
        let gen = self.bump_gen();
        let index = self.regs.insert(Registration {
            gen,
            slot,
            interest,
            enabled: true,
            trigger,
            name,
            handler: Some(handler),
            level_ready: None,
            queued: (0, 0),
        });
        self.slots[slot].members += 1;
        self.claim(slot, index, interest);
        if let Err(err) = self.sync_slot(registry, slot) {
            self.release(slot, index);
            self.slots[slot].members -= 1;
            self.regs.remove(index);
            self.drop_slot_if_unused(slot);
            return Err(err);
        }
        Ok(SourceKey {
            index: index as u32,
            gen,
        })
    }

    /// Changes a registration's interest; a direction held by another
    /// registration of the same fd is refused.
    pub(crate) fn set_interest(
        &mut self,
        registry: &Registry,
        key: SourceKey,
        interest: Interest,
    ) -> Result<(), RegisterError> {
        let (slot, old) = match self.get(key) {
            Some(r) => (r.slot, r.interest),
            None => return Err(RegisterError::UnknownKey),
        };
        let index = key.index as usize;
        self.check_free(slot, Some(index), interest)?;
        self.release(slot, index);
        self.claim(slot, index, interest);
        if let Err(err) = self.sync_slot(registry, slot) {
            self.release(slot, index);
            self.claim(slot, index, old);
            return Err(err);
        }
        let reg = &mut self.regs[index];
        reg.interest = interest;
        reg.level_ready = reg
            .level_ready
            .map(|r| r.filter(interest))
            .filter(|r| !r.is_empty());
        Ok(())
    }

    /// Removes a registration. Returns its handler (and so its source) for the
    /// caller to drop, unless the handler is running right now, in which case
    /// the dispatcher drops it when it returns.
    pub(crate) fn remove(
        &mut self,
        registry: &Registry,
        key: SourceKey,
    ) -> Option<Option<Box<dyn Dispatch<D>>>> {
        self.get(key)?;
        let index = key.index as usize;
        let reg = self.regs.remove(index);
        let slot = reg.slot;
        self.release(slot, index);
        self.slots[slot].members -= 1;
        // Deregister before the caller drops (closes) the source.
        if let Err(err) = self.sync_slot(registry, slot) {
            tracing::debug!(%err, name = %reg.name, "deregistering a removed source failed (already closed?)");
        }
        self.drop_slot_if_unused(slot);
        Some(reg.handler)
    }

    /// Takes the handler out to run it; `None` if the key is stale.
    pub(crate) fn take_handler(&mut self, key: SourceKey) -> Option<Box<dyn Dispatch<D>>> {
        self.get_mut(key)?.handler.take()
    }

    /// The handler and source of a live registration whose handler is not
    /// running.
    pub(crate) fn handler(&self, key: SourceKey) -> Option<&dyn Dispatch<D>> {
        self.get(key)?.handler.as_deref()
    }

    /// As [`IoTable::handler`], mutably.
    pub(crate) fn handler_mut(
        &mut self,
        key: SourceKey,
    ) -> Option<&mut (dyn Dispatch<D> + 'static)> {
        self.get_mut(key)?.handler.as_deref_mut()
    }

    /// Turns polling of a registration's interest off or back on; its
    /// claim on the fd's directions stays either way.
    pub(crate) fn set_enabled(
        &mut self,
        registry: &Registry,
        key: SourceKey,
        enabled: bool,
    ) -> Result<(), RegisterError> {
        let reg = self.get_mut(key).ok_or(RegisterError::UnknownKey)?;
        if reg.enabled == enabled {
            return Ok(());
        }
        reg.enabled = enabled;
        if !enabled {
            reg.level_ready = None;
        }
        let slot = reg.slot;
        if let Err(err) = self.sync_slot(registry, slot) {
            self.regs[key.index as usize].enabled = !enabled;
            return Err(err);
        }
        Ok(())
    }

    /// Puts a handler back after it ran; hands it back if the registration was
    /// removed meanwhile, for the caller to drop.
    pub(crate) fn put_back(
        &mut self,
        key: SourceKey,
        handler: Box<dyn Dispatch<D>>,
    ) -> Option<Box<dyn Dispatch<D>>> {
        match self.get_mut(key) {
            Some(reg) => {
                reg.handler = Some(handler);
                None
            }
            None => Some(handler),
        }
    }

    pub(crate) fn set_level_ready(&mut self, key: SourceKey, ready: Option<Ready>) {
        let Some(reg) = self.get_mut(key) else { return };
        let was_owed = reg.level_ready.is_some();
        reg.level_ready = ready
            .filter(|_| reg.enabled)
            .map(|r| r.filter(reg.interest))
            .filter(|r| !r.is_empty());
        if reg.level_ready.is_some() && !was_owed {
            self.level_owed.push(key);
        }
    }

    /// Queues the registrations a poller event is for into `out`, with the
    /// readiness each sees. `round` numbers the dispatch round (never 0).
    pub(crate) fn queue_event(
        &mut self,
        token: Token,
        ready: Ready,
        round: u64,
        out: &mut Vec<(SourceKey, Ready)>,
    ) {
        let (index, gen) = unpack(token);
        let Some(slot) = self.slots.get(index).filter(|s| s.gen == gen) else {
            return; // stale: the fd was removed after the poll returned
        };
        let (reader, writer) = (slot.reader, slot.writer);
        for reg in [reader, writer].into_iter().flatten() {
            let r = &self.regs[reg];
            if !r.enabled {
                continue; // the fd is polled for its other holder
            }
            let key = SourceKey {
                index: reg as u32,
                gen: r.gen,
            };
            let seen = ready.filter(r.interest);
            if !seen.is_empty() {
                self.queue(key, seen, round, out);
            }
        }
    }

    /// Queues the level-triggered registrations owed a call; the dispatch
    /// outcome decides whether they are owed one again.
    pub(crate) fn queue_level_owed(&mut self, round: u64, out: &mut Vec<(SourceKey, Ready)>) {
        for key in std::mem::take(&mut self.level_owed) {
            if let Some(ready) = self.get_mut(key).and_then(|r| r.level_ready.take()) {
                self.queue(key, ready, round, out);
            }
        }
    }

    fn queue(
        &mut self,
        key: SourceKey,
        ready: Ready,
        round: u64,
        out: &mut Vec<(SourceKey, Ready)>,
    ) {
        let Some(reg) = self.get_mut(key) else { return };
        match reg.queued {
            (r, at) if r == round => out[at].1 = out[at].1.merge(ready),
            _ => {
                reg.queued = (round, out.len());
                out.push((key, ready));
            }
        }
    }

    /// Whether a level registration is owed a call (the loop must not sleep).
    pub(crate) fn any_level_owed(&self) -> bool {
        !self.level_owed.is_empty()
    }

    /// Every live key, for dropping them all.
    pub(crate) fn keys(&self) -> Vec<SourceKey> {
        self.regs
            .iter()
            .map(|(i, r)| SourceKey {
                index: i as u32,
                gen: r.gen,
            })
            .collect()
    }

    fn check_free(
        &self,
        slot: usize,
        me: Option<usize>,
        interest: Interest,
    ) -> Result<(), RegisterError> {
        let s = &self.slots[slot];
        let taken = |holder: Option<usize>| holder.is_some() && holder != me;
        let conflict = if interest.is_read() && taken(s.reader) {
            Some((Direction::Read, s.reader))
        } else if interest.is_write() && taken(s.writer) {
            Some((Direction::Write, s.writer))
        } else {
            None
        };
        match conflict {
            Some((direction, Some(owner))) => Err(RegisterError::AlreadyWatched {
                fd: s.fd,
                direction,
                owner: self.regs[owner].name.to_string(),
            }),
            _ => Ok(()),
        }
    }

    fn claim(&mut self, slot: usize, reg: usize, interest: Interest) {
        let s = &mut self.slots[slot];
        if interest.is_read() {
            s.reader = Some(reg);
        }
        if interest.is_write() {
            s.writer = Some(reg);
        }
    }

    fn release(&mut self, slot: usize, reg: usize) {
        let s = &mut self.slots[slot];
        if s.reader == Some(reg) {
            s.reader = None;
        }
        if s.writer == Some(reg) {
            s.writer = None;
        }
    }

    fn drop_slot_if_unused(&mut self, slot: usize) {
        if self.slots[slot].members == 0 {
            let s = self.slots.remove(slot);
            self.by_fd.remove(&s.fd);
        }
    }

    /// Makes the poller's registration of the slot's fd match its enabled
    /// holders.
    fn sync_slot(&mut self, registry: &Registry, slot: usize) -> Result<(), RegisterError> {
        let s = &mut self.slots[slot];
        let regs = &self.regs;
        let polled = |holder: Option<usize>| holder.is_some_and(|r| regs[r].enabled);
        let mut wanted = Interest::NONE;
        if polled(s.reader) {
            wanted = wanted | Interest::READ;
        }
        if polled(s.writer) {
            wanted = wanted | Interest::WRITE;
        }
        if wanted == s.polled {
            return Ok(());
        }
        let token = pack(slot, s.gen);
        let fd = s.fd;
        let result = match (s.polled.to_mio(), wanted.to_mio()) {
            (None, Some(i)) => registry.register(&mut SourceFd(&fd), token, i),
            (Some(_), Some(i)) => registry.reregister(&mut SourceFd(&fd), token, i),
            (Some(_), None) => registry.deregister(&mut SourceFd(&fd)),
            (None, None) => Ok(()),
        };
        match result {
            Ok(()) => {
                s.polled = wanted;
                Ok(())
            }
            Err(source) => Err(RegisterError::Poller { fd, source }),
        }
    }
}

/// The waker's token; slot tokens never reach it (index < 2^32).
pub(crate) const WAKER_TOKEN: Token = Token(usize::MAX);

fn pack(index: usize, gen: u32) -> Token {
    Token(((gen as usize) << 32) | (index & 0xffff_ffff))
}

fn unpack(token: Token) -> (usize, u32) {
    (token.0 & 0xffff_ffff, (token.0 >> 32) as u32)
}
