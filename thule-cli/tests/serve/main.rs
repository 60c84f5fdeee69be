//! The webhook service (`thule serve`) against its server on 127.0.0.1: intake with signed
//! deliveries, every case of the webhook corpus, the durable queue with fake runners
//! (superseding, leases, a service dropped mid-run and restarted on the same SQLite file,
//! graceful shutdown), what it shows, and the real binary. Every server listens on loopback
//! with port 0, every wait is bounded, and every test stops its server.

mod binary;
mod corpus;
mod intake;
mod observe;
mod plans;
mod queue;
mod support;
