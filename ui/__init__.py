"""The parts the pages in views/ share: session state (session), the knob table (knobs), the Train runner and
the live panels (train_runner, train_live, compare_live, sweep_live), run-store access (stored_runs), downloads,
caches, data loading, theory texts and the look. Imports core, never the pages; core never imports this package."""
