//! The settings page: over plain HTTP (sessions, forms, ownership) and in headless
//! Chromium (the whole flow a person goes through).

mod browser;
mod chromium;
mod jwt_sign_in;
mod pages;
mod session;
mod web;
