# The SD-card image (docs/appliance.md). Both need root; neither runs in the test suite.
.PHONY: image image-smoke

image:
	bash image-build/build.sh

image-smoke:
	python3 image-build/smoke.py
