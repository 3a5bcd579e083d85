"""The parts the pages in views/ share: session state, the knob table, the Train runner and live panels,
run-store access and caches, downloads, theory texts, the look and the data loaders. Imports core, never
the pages; core never imports this package."""
