# Source-only: a UDASegmentor without any adaptation part (supervised on the
# labelled batch only).
model = dict(type='UDASegmentor')
