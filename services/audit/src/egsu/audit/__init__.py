"""The audit journal: a hash chain of every audit event, signed Merkle checkpoints, retention."""
