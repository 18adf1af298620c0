print("mitra-exporter")
