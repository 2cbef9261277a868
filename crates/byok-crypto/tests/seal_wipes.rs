//! `seal` leaves no unwiped copy of the plaintext: this binary's allocator looks at
//! every block as it is freed (reallocations are done as allocate, copy, free) and
//! notes any that still holds the canary.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicBool, Ordering};

use byok_core::{CredentialId, Owner, ProviderId, SecretFields, SecretValue};
use byok_crypto::{Binding, Keyring};

const CANARY: &[u8] = b"CANARY-7f3a9c51e2";

static WATCHING: AtomicBool = AtomicBool::new(false);
static FOUND: AtomicBool = AtomicBool::new(false);

struct Watcher;

unsafe impl GlobalAlloc for Watcher {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if WATCHING.load(Ordering::SeqCst) {
            // Freed memory is plain bytes to the allocator; reading it is what an
            // attacker with a memory dump would do.
            let block = unsafe { std::slice::from_raw_parts(ptr, layout.size()) };
            if block.windows(CANARY.len()).any(|w| w == CANARY) {
                FOUND.store(true, Ordering::SeqCst);
            }
        }
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            unsafe {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size().min(new_size));
                self.dealloc(ptr, layout);
            }
        }
        new
    }
}

#[global_allocator]
static ALLOCATOR: Watcher = Watcher;

/// Secrets whose JSON is several times their length (control characters are written
/// as `\u00XX`), so any buffer sized from their length must grow while the canary,
/// written first, is already in it.
#[test]
fn seal_never_leaves_an_unwiped_copy() {
    let ring = Keyring::from_settings(Some(&"ab".repeat(32)), None).unwrap();
    let (id, owner, provider) =
        (CredentialId::new(), "user:alice".parse::<Owner>().unwrap(), ProviderId::parse("gcp").unwrap());
    let binding = Binding { credential_id: &id, owner: &owner, provider: &provider, version: 1 };
    let mut secrets = SecretFields::new();
    for (name, escapes) in [("a", 10), ("b", 1000), ("c", 100_000)] {
        let mut value = String::from_utf8(CANARY.to_vec()).unwrap();
        value.extend(std::iter::repeat_n('\u{1}', escapes));
        secrets.insert(name.into(), SecretValue::new(value));
    }

    WATCHING.store(true, Ordering::SeqCst);
    let (_, envelope) = ring.seal(&binding, &secrets);
    WATCHING.store(false, Ordering::SeqCst);

    assert!(!FOUND.load(Ordering::SeqCst), "a freed block still held the plaintext");
    let opened = ring.open(&binding, &envelope).unwrap();
    assert_eq!(opened["c"].expose(), secrets["c"].expose(), "the round trip holds");
}
