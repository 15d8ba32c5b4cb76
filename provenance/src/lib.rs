//! in-toto Statement v1, SLSA Provenance v1 and DSSE envelopes for repro.
