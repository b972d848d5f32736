"""Reference SQLite queries for every question the ``sql`` recipe asks.

Labels for the benchmark only (``bench/check_sql.py``): no verifier reads this file.
``ordered`` marks the questions that ask for an order; elsewhere rows compare as a multiset.
Keys are the question texts of ``src/synthfactory/examples/sql_questions.jsonl``, word for
word; a test checks that every question has exactly one reference.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Reference:
    """The reference query of one question, and whether its row order is part of the answer."""

    sql: str
    ordered: bool = False


_REVENUE = "p.price * o.quantity"
_ORDER_LINES = "orders o JOIN products p ON p.id = o.product_id"

REFERENCES: dict[str, Reference] = {
    "How many customers are there?": Reference("SELECT COUNT(*) FROM customers"),
    "List the names of all customers from the US.": Reference(
        "SELECT name FROM customers WHERE country = 'US'"
    ),
    "What is the most expensive product?": Reference(
        "SELECT name FROM products WHERE price = (SELECT MAX(price) FROM products)"
    ),
    "List the products in the books category with their prices.": Reference(
        "SELECT name, price FROM products WHERE category = 'books'"
    ),
    "How many orders were placed in 2024?": Reference(
        "SELECT COUNT(*) FROM orders WHERE strftime('%Y', ordered) = '2024'"
    ),
    "What is the average price of hardware products?": Reference(
        "SELECT AVG(price) FROM products WHERE category = 'hardware'"
    ),
    "Which customers joined in 2024?": Reference(
        "SELECT name FROM customers WHERE strftime('%Y', joined) = '2024'"
    ),
    "How many products does each category have?": Reference(
        "SELECT category, COUNT(*) FROM products GROUP BY category"
    ),
    "What is the total quantity of keyboards ordered?": Reference(
        f"SELECT SUM(o.quantity) FROM {_ORDER_LINES} WHERE p.name = 'Keyboard'"
    ),
    "Which customer placed the most orders?": Reference(
        "SELECT c.name FROM customers c JOIN orders o ON o.customer_id = c.id "
        "GROUP BY c.id ORDER BY COUNT(*) DESC LIMIT 1"
    ),
    "What is the total revenue (price times quantity) per country?": Reference(
        f"SELECT c.country, SUM({_REVENUE}) FROM {_ORDER_LINES} "
        "JOIN customers c ON c.id = o.customer_id GROUP BY c.country"
    ),
    "List each customer with the number of distinct products they bought.": Reference(
        "SELECT c.name, COUNT(DISTINCT o.product_id) FROM customers c "
        "LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id"
    ),
    "What is the name and price of the cheapest product?": Reference(
        "SELECT name, price FROM products WHERE price = (SELECT MIN(price) FROM products)"
    ),
    "How many customers are from the US?": Reference(
        "SELECT COUNT(*) FROM customers WHERE country = 'US'"
    ),
    "List the countries the customers come from, each country once.": Reference(
        "SELECT DISTINCT country FROM customers"
    ),
    "What is the total quantity of all items ever ordered?": Reference(
        "SELECT SUM(quantity) FROM orders"
    ),
    "List the names of the products that cost more than 50.": Reference(
        "SELECT name FROM products WHERE price > 50"
    ),
    "List the names of all customers in alphabetical order.": Reference(
        "SELECT name FROM customers ORDER BY name", ordered=True
    ),
    "List the three most expensive products with their prices, most expensive first.": Reference(
        "SELECT name, price FROM products ORDER BY price DESC LIMIT 3", ordered=True
    ),
    "How many orders were placed in March 2024?": Reference(
        "SELECT COUNT(*) FROM orders WHERE strftime('%Y-%m', ordered) = '2024-03'"
    ),
    "Which country has the most customers?": Reference(
        "SELECT country FROM customers GROUP BY country ORDER BY COUNT(*) DESC LIMIT 1"
    ),
    "Who is the customer that joined first?": Reference(
        "SELECT name FROM customers ORDER BY joined LIMIT 1"
    ),
    "What is the name and join date of the customer who joined most recently?": Reference(
        "SELECT name, joined FROM customers ORDER BY joined DESC LIMIT 1"
    ),
    "What is the average quantity per order?": Reference("SELECT AVG(quantity) FROM orders"),
    "List the names of the hardware products, cheapest first.": Reference(
        "SELECT name FROM products WHERE category = 'hardware' ORDER BY price", ordered=True
    ),
    "Which customers from the US joined in 2024?": Reference(
        "SELECT name FROM customers WHERE country = 'US' AND strftime('%Y', joined) = '2024'"
    ),
    "How many orders did each customer place?": Reference(
        "SELECT c.name, COUNT(o.id) FROM customers c "
        "LEFT JOIN orders o ON o.customer_id = c.id GROUP BY c.id"
    ),
    "List the names of the customers who ordered the Monitor.": Reference(
        f"SELECT DISTINCT c.name FROM {_ORDER_LINES} "
        "JOIN customers c ON c.id = o.customer_id WHERE p.name = 'Monitor'"
    ),
    "What is the total revenue (price times quantity) of all orders?": Reference(
        f"SELECT SUM({_REVENUE}) FROM {_ORDER_LINES}"
    ),
    "What is the total revenue (price times quantity) per product category?": Reference(
        f"SELECT p.category, SUM({_REVENUE}) FROM {_ORDER_LINES} GROUP BY p.category"
    ),
    "Which product was ordered in the largest total quantity?": Reference(
        f"SELECT p.name FROM {_ORDER_LINES} GROUP BY p.id ORDER BY SUM(o.quantity) DESC LIMIT 1"
    ),
    "How many different products has Grace ordered?": Reference(
        "SELECT COUNT(DISTINCT o.product_id) FROM orders o "
        "JOIN customers c ON c.id = o.customer_id WHERE c.name = 'Grace'"
    ),
    "List the names of the customers who ordered books, each name once.": Reference(
        f"SELECT DISTINCT c.name FROM {_ORDER_LINES} "
        "JOIN customers c ON c.id = o.customer_id WHERE p.category = 'books'"
    ),
    "How much has Ada spent in total (price times quantity)?": Reference(
        f"SELECT SUM({_REVENUE}) FROM {_ORDER_LINES} "
        "JOIN customers c ON c.id = o.customer_id WHERE c.name = 'Ada'"
    ),
    "How many customers placed at least two orders?": Reference(
        "SELECT COUNT(*) FROM (SELECT customer_id FROM orders "
        "GROUP BY customer_id HAVING COUNT(*) >= 2)"
    ),
    "What is the total quantity ordered of each product?": Reference(
        "SELECT p.name, COALESCE(SUM(o.quantity), 0) FROM products p "
        "LEFT JOIN orders o ON o.product_id = p.id GROUP BY p.id"
    ),
    "How many orders were placed in each month of 2024?": Reference(
        "SELECT strftime('%Y-%m', ordered), COUNT(*) FROM orders "
        "WHERE strftime('%Y', ordered) = '2024' GROUP BY 1"
    ),
    "Which customers ordered both hardware and books?": Reference(
        f"SELECT c.name FROM customers c WHERE c.id IN (SELECT o.customer_id FROM {_ORDER_LINES} "
        "WHERE p.category = 'hardware') AND c.id IN (SELECT o.customer_id FROM "
        f"{_ORDER_LINES} WHERE p.category = 'books')"
    ),
}

__all__ = ["REFERENCES", "Reference"]
