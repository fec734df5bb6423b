"""The pipeline that composes the layers: prefilter, strategy(method(backend)), fusion, config."""
