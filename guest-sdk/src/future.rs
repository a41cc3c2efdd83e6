//! `Future<T>`: the result of a submitted task.

use std::fmt;
use std::marker::PhantomData;

use wf_abi::ArgSpec;

use crate::Error;
use crate::arg::Wire;

/// The result of a submitted task, `T` once it is done.
///
/// Pass it (or a reference to it) to another app's `submit` to make that task depend on this one;
/// call [`get`](Future::get) to block until the value is there.
///
/// In a wasm module the future is an id the host handed out; natively (in `cargo test`) the task
/// already ran when `submit` returned, and the future holds its encoded result or its failure.
pub struct Future<T> {
    app: &'static str,
    state: State,
    _value: PhantomData<fn() -> T>,
}

/// Where a future stands. Natively every future is settled at once; in a module it is an id until
/// the host answers.
#[derive(Clone, Debug)]
enum State {
    /// The host's id for the task (wasm only).
    #[cfg(target_arch = "wasm32")]
    Submitted(u64),
    /// The task's result, postcard-encoded (native only: the task ran inside `submit`).
    #[cfg(not(target_arch = "wasm32"))]
    Done(Vec<u8>),
    /// The task could not be submitted, or (natively) it failed.
    Failed(Error),
}

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Self {
            app: self.app,
            state: self.state.clone(),
            _value: PhantomData,
        }
    }
}

impl<T> fmt::Debug for Future<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Future")
            .field("app", &self.app)
            .field("state", &self.state)
            .finish()
    }
}

impl<T> Future<T> {
    /// The name of the app whose result this is.
    pub fn app(&self) -> &'static str {
        self.app
    }

    /// A future that failed before its task could run.
    pub(crate) fn failed(app: &'static str, error: Error) -> Self {
        Self {
            app,
            state: State::Failed(error),
            _value: PhantomData,
        }
    }

    #[cfg(target_arch = "wasm32")]
    pub(crate) fn submitted(app: &'static str, id: u64) -> Self {
        Self {
            app,
            state: State::Submitted(id),
            _value: PhantomData,
        }
    }

    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn done(app: &'static str, bytes: Vec<u8>) -> Self {
        Self {
            app,
            state: State::Done(bytes),
            _value: PhantomData,
        }
    }

    /// The error a task depending on this future gets when this future failed.
    fn dependency_failed(&self, error: &Error) -> Error {
        Error::msg(format!("dependency `{}` failed: {error}", self.app))
    }

    /// This future as an argument of another task.
    pub(crate) fn spec(&self) -> Result<ArgSpec, Error> {
        match &self.state {
            #[cfg(target_arch = "wasm32")]
            State::Submitted(id) => Ok(ArgSpec::Future(*id)),
            #[cfg(not(target_arch = "wasm32"))]
            State::Done(bytes) => Ok(ArgSpec::Value(bytes.clone())),
            State::Failed(error) => Err(self.dependency_failed(error)),
        }
    }

    /// Several futures as one `Vec<T>` argument (fan-in).
    pub(crate) fn fan_in(futures: &[Self]) -> Result<ArgSpec, Error> {
        #[cfg(target_arch = "wasm32")]
        {
            let mut ids = Vec::with_capacity(futures.len());
            for future in futures {
                match &future.state {
                    State::Submitted(id) => ids.push(*id),
                    State::Failed(error) => return Err(future.dependency_failed(error)),
                }
            }
            Ok(ArgSpec::Futures(ids))
        }
        #[cfg(not(target_arch = "wasm32"))]
        {
            let mut parts = Vec::with_capacity(futures.len());
            for future in futures {
                match &future.state {
                    State::Done(bytes) => parts.push(bytes.as_slice()),
                    State::Failed(error) => return Err(future.dependency_failed(error)),
                }
            }
            Ok(ArgSpec::Value(crate::arg::concat_seq(parts.len(), parts)))
        }
    }
}

impl<T: Wire> Future<T> {
    /// Blocks until the task is done and returns its result.
    ///
    /// Fails when the task failed (its error, its panic, or a failed dependency: the message
    /// says which) or when its result cannot be decoded as `T`. Each call asks again, so keep the
    /// value rather than calling `get` in a loop.
    pub fn get(&self) -> Result<T, Error> {
        let bytes = match &self.state {
            #[cfg(target_arch = "wasm32")]
            State::Submitted(id) => crate::host::wait(*id)
                .map_err(|message| Error::msg(format!("app `{}` failed: {message}", self.app)))?,
            #[cfg(not(target_arch = "wasm32"))]
            State::Done(bytes) => bytes.clone(),
            State::Failed(error) => {
                return Err(Error::msg(format!("app `{}` failed: {error}", self.app)));
            }
        };
        postcard::from_bytes(&bytes).map_err(|e| {
            Error::msg(format!(
                "the result of app `{}` could not be decoded as {}: {e}",
                self.app,
                std::any::type_name::<T>()
            ))
        })
    }
}
