mod credentials;
mod health;
mod providers;
mod tokens;

pub(crate) use credentials::*;
pub(crate) use health::*;
pub(crate) use providers::*;
pub(crate) use tokens::*;
