//! Renders projects. (Being built: see issue 3.)
