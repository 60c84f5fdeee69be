//! The diff engine. (Being built: see issue 4.)
