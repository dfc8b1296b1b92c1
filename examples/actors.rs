//! The channel-and-actor world of ../shared/seeds/003 (stackless Python's
//! `World` and `Robot` tasklets), headless, on Rouse.
//!
//! Every actor owns a mailbox (a crossbeam channel) and reacts to one message
//! at a time, as a stackless tasklet blocks in `channel.receive()`:
//!
//! ```text
//!   robot threads (one per robot)            loop thread (rouse-reactor)
//!   ┌────────────┐   JOIN / UPDATE_VECTOR    ┌─────────────────────────────┐
//!   │ Robot r1   │ ── world mailbox ───────► │ World: prepare hook drains  │
//!   │ recv() ... │      + Handle::wake()     │ its mailbox; a periodic     │
//!   └────────────┘                           │ timer moves every robot and │
//!        ▲          WORLD_STATE / COLLISION  │ broadcasts WORLD_STATE      │
//!        └───────── robot mailboxes ──────── └─────────────────────────────┘
//! ```
//!
//! The world runs on the event loop, as its data (`EventLoop<World>`): a
//! `call_every` tick plays the part of the seed's `send_state_to_actors`
//! tasklet, and a prepare hook reads the world's mailbox before each poll;
//! both get `&mut World` from the loop, so nothing is shared behind a
//! `RefCell`. Robots are real threads blocked in
//! `recv()`; after sending to the world they wake the loop through the
//! reactor's `Handle`, so the world sees their message at once instead of at
//! its next tick. The display actor of the seed is a printed line per tick.
//!
//! `cargo run --example actors -- --robots 4 --ticks 10 --tick-ms 50`

#![allow(clippy::print_stdout)] // an example: printing is its output

use std::collections::BTreeMap;
use std::time::Duration;

use clap::Parser;
use crossbeam_channel::{unbounded, Receiver, RecvTimeoutError, Sender};
use rouse::reactor::{EventLoop, Handle};

/// Field size, as in the seed (a 496 x 496 window minus the icon).
const FIELD: f64 = 496.0;

#[derive(Parser, Debug)]
#[command(about = "Stackless-style actors: a world and robots exchanging messages")]
struct Args {
    /// Number of robots.
    #[arg(long, default_value_t = 6)]
    robots: usize,
    /// World ticks before the program stops.
    #[arg(long, default_value_t = 20)]
    ticks: u32,
    /// Milliseconds between world ticks.
    #[arg(long, default_value_t = 50)]
    tick_ms: u64,
}

/// What robots tell the world.
enum ToWorld {
    Join {
        id: usize,
        reply: Sender<ToRobot>,
        at: (f64, f64),
        angle: f64,
        velocity: f64,
    },
    UpdateVector {
        id: usize,
        angle: f64,
        velocity: f64,
    },
}

/// What the world tells robots.
enum ToRobot {
    WorldState,
    Collision,
}

/// The world's view of one robot.
struct Body {
    mailbox: Sender<ToRobot>,
    at: (f64, f64),
    angle: f64,
    velocity: f64,
}

/// The world actor: owns every position, moves robots, reports collisions.
#[derive(Default)]
struct World {
    bodies: BTreeMap<usize, Body>,
    collisions: u32,
}

impl World {
    fn receive(&mut self, message: ToWorld) {
        match message {
            ToWorld::Join {
                id,
                reply,
                at,
                angle,
                velocity,
            } => {
                self.bodies.insert(
                    id,
                    Body {
                        mailbox: reply,
                        at,
                        angle,
                        velocity,
                    },
                );
            }
            ToWorld::UpdateVector {
                id,
                angle,
                velocity,
            } => {
                if let Some(body) = self.bodies.get_mut(&id) {
                    body.angle = angle;
                    body.velocity = velocity;
                }
            }
        }
    }

    /// One step of the seed's `send_state_to_actors`: move, collide, broadcast.
    fn tick(&mut self, tick: u32) {
        for body in self.bodies.values_mut() {
            let (dx, dy) = (body.angle.to_radians().sin(), body.angle.to_radians().cos());
            let next = (
                body.at.0 + dx * body.velocity,
                body.at.1 - dy * body.velocity,
            );
            let outside = !(0.0..=FIELD).contains(&next.0) || !(0.0..=FIELD).contains(&next.1);
            if outside {
                self.collisions += 1;
                let _ = body.mailbox.send(ToRobot::Collision);
            } else {
                body.at = next;
            }
        }
        for body in self.bodies.values() {
            let _ = body.mailbox.send(ToRobot::WorldState);
        }
        let positions: Vec<String> = self
            .bodies
            .iter()
            .map(|(id, b)| format!("r{id} ({:5.1},{:5.1}) {:5.1}°", b.at.0, b.at.1, b.angle))
            .collect();
        println!("tick {tick:>3}: {}", positions.join("  "));
    }
}

/// A robot actor: turns a little every world state, bounces on collision.
fn robot(
    id: usize,
    world: Sender<ToWorld>,
    loop_handle: Handle<World>,
    start: (f64, f64),
    angle: f64,
    velocity: f64,
) {
    let (mailbox, inbox): (Sender<ToRobot>, Receiver<ToRobot>) = unbounded();
    let tell_world = |message: ToWorld| {
        // The world lives on the loop thread: queue, then wake it (coalesced).
        let delivered = world.send(message).is_ok();
        loop_handle.wake();
        delivered
    };
    if !tell_world(ToWorld::Join {
        id,
        reply: mailbox,
        at: start,
        angle,
        velocity,
    }) {
        return;
    }
    let mut angle = angle;
    loop {
        match inbox.recv_timeout(Duration::from_secs(5)) {
            Ok(ToRobot::WorldState) => {
                angle = (angle + 0.5) % 360.0;
                if !tell_world(ToWorld::UpdateVector {
                    id,
                    angle,
                    velocity,
                }) {
                    return;
                }
            }
            Ok(ToRobot::Collision) => angle = (angle + 73.0) % 360.0,
            // The world dropped our mailbox (it stopped) or went silent.
            Err(RecvTimeoutError::Disconnected | RecvTimeoutError::Timeout) => return,
        }
    }
}

fn main() -> std::io::Result<()> {
    let args = Args::parse();
    let mut event_loop: EventLoop<World> = EventLoop::new()?;
    let (to_world, world_inbox) = unbounded::<ToWorld>();

    // The seed's robots: the same corner, different headings and speeds.
    let robots: Vec<_> = (1..=args.robots)
        .map(|id| {
            let (world, handle) = (to_world.clone(), event_loop.handle());
            let start = if id == 1 {
                (0.0, 0.0)
            } else {
                (464.0, (id as f64 * 2.0).min(FIELD))
            };
            let angle = [135.0, 225.0, 0.0, 90.0, 300.0, 45.0][id % 6];
            let velocity = 5.0 + 10.0 * (id as f64 - 1.0);
            std::thread::Builder::new()
                .name(format!("robot-{id}"))
                .spawn(move || robot(id, world, handle, start, angle, velocity))
        })
        .collect::<Result<_, _>>()?;
    drop(to_world);

    event_loop.add_prepare(move |_, world| {
        for message in world_inbox.try_iter() {
            world.receive(message);
        }
    });
    let ticks = args.ticks;
    let mut tick = 0;
    event_loop.call_every(Duration::from_millis(args.tick_ms), move |lp, world| {
        tick += 1;
        world.tick(tick);
        if tick >= ticks {
            lp.stop();
        }
    });
    let mut world = World::default();
    event_loop.run(&mut world)?;

    let stats = event_loop.handle().waker_stats();
    let (robots_seen, collisions) = (world.bodies.len(), world.collisions);
    println!(
        "{robots_seen} robots, {ticks} ticks, {collisions} collisions; \
         robot wakes requested {}, wake syscalls {}",
        stats.wakes_requested, stats.wake_syscalls
    );
    // Dropping the loop and the world drops every robot's mailbox sender:
    // each robot's recv() ends and its thread returns.
    drop(event_loop);
    drop(world);
    for robot in robots {
        let _ = robot.join();
    }
    Ok(())
}
