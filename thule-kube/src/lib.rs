//! The cluster reader. (Being built: see issue 6.)
