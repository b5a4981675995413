"""radio's command-line tools, installed as radio.cli (radio itself never imports it)."""
