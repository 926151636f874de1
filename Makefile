# The SD-card image (docs/appliance.md). All need root; none runs in the test suite.
.PHONY: image image-smoke image-smoke-broken-config

image:
	bash image-build/build.sh

image-smoke:
	python3 image-build/smoke.py

# The same boot with a typo in kiosk.toml: the error screen, no restart loop (about 5 minutes).
image-smoke-broken-config:
	python3 image-build/smoke.py --broken-config
