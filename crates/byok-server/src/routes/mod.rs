mod credentials;
mod health;
mod policy;
mod providers;
mod resolve;
mod testing;
mod tokens;
mod usage;
pub(crate) mod virtual_keys;

pub(crate) use credentials::*;
pub(crate) use health::*;
pub(crate) use policy::*;
pub(crate) use providers::*;
pub(crate) use resolve::*;
pub(crate) use testing::*;
pub(crate) use tokens::*;
pub(crate) use usage::*;
pub(crate) use virtual_keys::*;
