"""The report (one self-contained HTML file), its charts and the exports."""
