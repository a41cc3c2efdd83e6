//! The only place that touches the filesystem: runs, the checkpoint log and blobs.
