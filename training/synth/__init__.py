"""Synthetic genre corpus: real sampled instruments (General MIDI soundfonts, recorded
drum kits) playing randomised genre recipes through a randomised production chain.

``python -m training.synth --out DIR --per-genre N --seed S --jobs J`` renders it.
Training-only dependencies: ``pyfluidsynth`` (and the Debian packages fluidsynth,
fluid-soundfont-gm, timgm6mb-soundfont, musescore-general-soundfont, hydrogen-drumkits).
"""
